import type { JsonSchema } from "../../openapi/codat.ts";
import type { ClientId, CompanyId, MessageId } from "../../ids.ts";
import { eventCatalog, findEventType } from "./catalog.ts";
import { LEGACY_RULE_TYPES, renderAlerts, type LegacyAlert } from "./legacy-rules.ts";
import { standaloneSchema } from "./event-schemas.ts";
import { isPublishable } from "./publish.ts";

export interface CatalogEntry {
  eventType: string;
  description: string;
  /** Whether the operator may publish it (POST /events); Hookline emits the others itself. */
  publishable: boolean;
  /** JSON Schema 2020-12 of the whole event body, usable on its own. */
  schema: JsonSchema;
  example: unknown;
  /** Set on legacy rule types only: the event types that replace it. */
  replacedBy?: string[];
}

/** The flat payload every legacy rule type shares (Codat's legacy rule webhooks); `Data` holds the rule's own fields. */
const LEGACY_ALERT_SCHEMA: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "Legacy rule alert",
  type: "object",
  properties: {
    AlertId: { type: "string", format: "uuid", description: "The alert's id, also its webhook-id." },
    RuleType: { type: "string" },
    RuleId: { type: "string", format: "uuid", description: "Stable for a client and rule type." },
    ClientId: { type: "string", format: "uuid" },
    ClientName: { type: "string" },
    CompanyId: { type: "string", format: "uuid", description: "Absent for the rate limit rules, which concern no company." },
    DataConnectionId: { type: "string" },
    Message: { type: "string" },
    Data: { type: "object" },
  },
  required: ["AlertId", "RuleType", "RuleId", "ClientId", "ClientName", "Message"],
  additionalProperties: false,
};

/** What a rule's example changes in its replacement's example so that the rule fires: a read that failed or changed records, a write that timed out. */
const EXAMPLE_CHANGES: Record<string, (payload: Record<string, unknown>) => Record<string, unknown>> = {
  "Data Sync Status Changed To Error": (payload) => ({ dataTypes: firstDataType(payload, { status: "ProcessingError" }) }),
  "Dataset data changed": (payload) => ({ dataTypes: firstDataType(payload, { recordsModified: true }) }),
  "Push Operation Timed Out": () => ({ status: "TimedOut" }),
};

const firstDataType = (payload: Record<string, unknown>, changes: Record<string, unknown>) => [
  { ...(payload.dataTypes as Array<Record<string, unknown>>)[0], ...changes },
];

const EXAMPLE_CLIENT = "bae71d36-ff47-420a-b4a6-f8c9ddf41140" as ClientId;

/** A rule type's example: its alert for its first replacement type's catalog example, changed so that the rule fires. */
function legacyExample(ruleType: string, replacedBy: readonly string[]): LegacyAlert | undefined {
  const eventType = replacedBy[0]!.replace("{dataType}", "invoices");
  const example = findEventType(eventType)?.example as { payload?: Record<string, unknown> } | undefined;
  const payload = { ...example?.payload, ...EXAMPLE_CHANGES[ruleType]?.(example?.payload ?? {}) };
  const companyId = eventType.startsWith("client.") ? null : ("8a210b68-6988-11ed-a1eb-0242ac120002" as CompanyId);
  const [alert] = renderAlerts({ clientId: EXAMPLE_CLIENT, clientName: "Bank of Dave", eventType, companyId, payload }, new Set([ruleType]));
  return alert && { AlertId: "a9367074-b5c3-42c4-9be4-be129f43577e" as MessageId, ...alert };
}

/** Every event type of the catalog, as `GET /events/catalog` and `hookline events catalog` show it. */
export function describeCatalog(): { results: CatalogEntry[] } {
  return {
    results: [
      ...eventCatalog.map((definition) => ({
        eventType: definition.eventType,
        description: definition.description,
        publishable: isPublishable(definition),
        schema: standaloneSchema(definition),
        example: definition.example,
      })),
      ...[...LEGACY_RULE_TYPES].map(([ruleType, replacedBy]) => ({
        eventType: ruleType,
        description: `Legacy rule type, delivered as Codat's flat rule payload with the client profile's alertAuthHeader as Authorization. Replaced by ${replacedBy.join(", ")}.`,
        publishable: false,
        schema: LEGACY_ALERT_SCHEMA,
        example: legacyExample(ruleType, replacedBy),
        replacedBy: [...replacedBy],
      })),
    ],
  };
}
