import { createHash } from "node:crypto";
import type { ClientId, CompanyId, MessageId } from "../../ids.ts";

/**
 * Codat's legacy rule webhooks: before event types, a client configured
 * "rules" and got a flat payload per alert. A consumer may still subscribe to
 * a rule type; each event Hookline records is then also rendered as the alert
 * that rule would have raised (README, "Legacy rule webhooks").
 */

/** Each legacy rule type and the event types that replace it (SPEC section 5), in Codat's order. */
export const LEGACY_RULE_TYPES: ReadonlyMap<string, readonly string[]> = new Map([
  ["DataConnectionStatusChanged", ["connection.created", "connection.connected", "connection.disconnected", "connection.reconnected", "connection.deleted"]],
  ["Data sync completed", ["read.completed"]],
  ["Data Sync Status Changed To Error", ["read.completed"]],
  ["Dataset data changed", ["read.completed"]],
  ["New company synchronized", ["read.completed.initial"]],
  ["Push Operation Status Changed()", ["{dataType}.write.successful", "{dataType}.write.unsuccessful"]],
  ["Push Operation Timed Out", ["{dataType}.write.unsuccessful"]],
  ["Rate Limit Reached", ["client.rateLimit.reached"]],
  ["Rate Limit Reset", ["client.rateLimit.reset"]],
  ["Sync Connection Deleted", ["connection.deleted"]],
]);

export const isLegacyRuleType = (eventType: string): boolean => LEGACY_RULE_TYPES.has(eventType);

/** The exact spelling of a legacy rule type written with another case or spacing, for the 400 that refuses it. */
export function legacySpellingOf(eventType: string): string | undefined {
  const loose = (text: string) => text.toLowerCase().replace(/[\s()]+/g, "");
  return [...LEGACY_RULE_TYPES.keys()].find((ruleType) => loose(ruleType) === loose(eventType));
}

/** The flat payload of a legacy alert, its keys in Codat's order. */
export interface LegacyAlert {
  AlertId: MessageId;
  RuleType: string;
  RuleId: string;
  ClientId: ClientId;
  ClientName: string;
  CompanyId?: CompanyId;
  DataConnectionId?: string;
  Message: string;
  Data?: Record<string, unknown>;
}

/** An alert before it gets its id (the id of the message that carries it, so `AlertId` is the `webhook-id`). */
export type RenderedAlert = Omit<LegacyAlert, "AlertId">;

/**
 * Hookline has no rule objects: a client's rule of one type is named by an id
 * derived from the client and the type, so a receiver that keyed on `RuleId`
 * sees one stable id per rule type, as with one rule per type in Codat.
 */
export function ruleId(clientId: ClientId, ruleType: string): string {
  const hex = createHash("sha256").update(`${clientId}\u0000${ruleType}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The body a legacy alert is stored and sent as. Its keys start with `AlertId`, which isLegacyAlertBody relies on. */
export const legacyAlertBody = (id: MessageId, alert: RenderedAlert): string => JSON.stringify({ AlertId: id, ...alert });

/**
 * Whether a stored body is a legacy alert. Every body is written by the outbox:
 * events start with `{"id":`, alerts with `{"AlertId":`, so the worker tells
 * them apart from the bodies it already holds, without a query per batch.
 */
export const isLegacyAlertBody = (body: string): boolean => body.startsWith('{"AlertId":');

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => value !== null && typeof value === "object" && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** The event as rendering needs it. */
export interface AlertSource {
  clientId: ClientId;
  clientName: string;
  eventType: string;
  companyId: CompanyId | null;
  payload: unknown;
}

/**
 * Which status a connection had before each `connection.*` change, as far as
 * the event tells: a new connection had none, one connected for the first time
 * was PendingAuth, one disconnected was Linked. A reconnected one was Unlinked
 * or Deauthorized, which its event does not say: null.
 */
const PREVIOUS_STATUS: Record<string, string | null> = {
  "connection.created": null,
  "connection.connected": "PendingAuth",
  "connection.reconnected": null,
  "connection.disconnected": "Linked",
};

/**
 * The alerts an event raises, with the rule types they belong to: none for
 * an event no rule covered (`connection.failed`, `company.*`, Hookline's own
 * events). Only the rule types in `wanted` (those some consumer subscribed
 * to) are rendered.
 */
export function renderAlerts(source: AlertSource, wanted: ReadonlySet<string>): RenderedAlert[] {
  const alerts: RenderedAlert[] = [];
  const alert = (ruleType: string, fields: Omit<RenderedAlert, "RuleType" | "RuleId" | "ClientId" | "ClientName" | "CompanyId">) => {
    if (!wanted.has(ruleType)) return;
    alerts.push({
      RuleType: ruleType,
      RuleId: ruleId(source.clientId, ruleType),
      ClientId: source.clientId,
      ClientName: source.clientName,
      ...(source.companyId !== null && { CompanyId: source.companyId }),
      ...fields,
    });
  };
  const payload = isObject(source.payload) ? source.payload : {};
  const { eventType } = source;
  const companyId = source.companyId ?? "";

  if (eventType.startsWith("connection.")) {
    const connection = isObject(payload.connection) ? payload.connection : {};
    const id = text(connection.id);
    const platform = text(connection.platformName) ?? text(connection.integrationKey) ?? "";
    if (eventType === "connection.deleted") {
      const oldStatus = text(connection.status) ?? null;
      const fields = {
        DataConnectionId: id,
        Data: { dataConnectionId: id, newStatus: "Deleted", oldStatus, platformKey: text(connection.sourceType) ?? text(connection.integrationKey) },
      };
      alert("DataConnectionStatusChanged", { ...fields, Message: `Data connection for ${platform} status changed from ${oldStatus} to Deleted` });
      alert("Sync Connection Deleted", { Message: `Sync connection for company ${companyId} deleted` });
    } else if (eventType in PREVIOUS_STATUS) {
      const oldStatus = PREVIOUS_STATUS[eventType]!;
      const newStatus = text(connection.status) ?? "";
      alert("DataConnectionStatusChanged", {
        DataConnectionId: id,
        Message:
          oldStatus !== null
            ? `Data connection for ${platform} status changed from ${oldStatus} to ${newStatus}`
            : eventType === "connection.created"
              ? `Data connection for ${platform} created with status ${newStatus}`
              : `Data connection for ${platform} status changed to ${newStatus}`,
        Data: { dataConnectionId: id, newStatus, oldStatus, platformKey: text(connection.integrationKey) },
      });
    }
  } else if (eventType === "read.completed" || eventType === "read.completed.initial") {
    const dataTypes = Array.isArray(payload.dataTypes) ? payload.dataTypes.filter(isObject) : [];
    if (eventType === "read.completed.initial") {
      const connectionId = text(dataTypes[0]?.connectionId);
      alert("New company synchronized", {
        ...(connectionId !== undefined && { DataConnectionId: connectionId }),
        Message: `Company ${companyId} synced for the first time`,
        Data: { dataTypes: dataTypes.map((entry) => entry.dataType) },
      });
    }
    // Codat raised these once per data type; Hookline has no dataset ids, so datasetId is null.
    for (const entry of eventType === "read.completed" ? dataTypes : []) {
      const dataType = text(entry.dataType) ?? "";
      const status = text(entry.status) ?? "";
      const connection = { ...(text(entry.connectionId) !== undefined && { DataConnectionId: text(entry.connectionId) }) };
      if (status === "Complete") {
        alert("Data sync completed", {
          ...connection,
          Message: `Data sync of type ${dataType} completed for company ${companyId}`,
          Data: { dataType, datasetId: null },
        });
        if (entry.recordsModified === true) {
          alert("Dataset data changed", {
            ...connection,
            Message: `Data has changed for dataset type ${dataType}, company ${companyId}`,
            Data: { dataType, datasetId: null },
          });
        }
      } else {
        alert("Data Sync Status Changed To Error", {
          ...connection,
          Message: `ERROR: syncing ${dataType} triggered a ${status} notification`,
          Data: { dataType, datasetStatus: status, datasetId: null },
        });
      }
    }
  } else if (/^[^.]+\.write\.(successful|unsuccessful)$/.test(eventType)) {
    const dataType = eventType.slice(0, eventType.indexOf("."));
    const status = text(payload.status) ?? "";
    const key = text(payload.id);
    const connection = { ...(text(payload.connectionId) !== undefined && { DataConnectionId: text(payload.connectionId) }) };
    alert("Push Operation Status Changed()", {
      ...connection,
      Message: `${dataType} triggered notification for PushOperationStatusChanged at ${text(payload.completedOnDate) ?? ""}`,
      Data: { dataType, status, pushOperationKey: key },
    });
    if (status === "TimedOut") {
      alert("Push Operation Timed Out", {
        ...connection,
        Message: `ERROR: pushing ${dataType} never finished in time, timing out at ${text(payload.completedOnDate) ?? ""}`,
        Data: { dataType, pushOperationKey: key, pushOperationGuid: key },
      });
    }
  } else if (eventType === "client.rateLimit.reached") {
    alert("Rate Limit Reached", {
      Message: `The current daily rate limit quota of ${String(payload.dailyQuota)} requests for ${source.clientId} has been reached.`,
      Data: { DailyQuota: payload.dailyQuota, ExpiresUtc: payload.expiryDate },
    });
  } else if (eventType === "client.rateLimit.reset") {
    alert("Rate Limit Reset", {
      Message: `The current daily rate limit quota for client ${source.clientId} has been reset to ${String(payload.dailyQuota)} requests.`,
      Data: {
        QuotaRemaining: payload.quotaRemaining,
        ResetReason: "The quota was reset because its window ended.",
        DailyQuota: payload.dailyQuota,
        ExpiresUtc: payload.expiryDate,
      },
    });
  }
  return alerts;
}
