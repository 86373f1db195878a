import type { JsonSchema } from "../../openapi/codat.ts";
import type { EventTypeDefinition } from "./event-type.ts";

/** Hookline's connection insight events: a link reminder, and alert rules that start and stop holding. */
export const LINK_REMINDER = "connection.link.reminder";
export const INSIGHT_ALERT = "connection.insight.alert";
export const INSIGHT_RESOLVED = "connection.insight.resolved";

const dateTime = (description: string): JsonSchema => ({ type: "string", format: "date-time", description });
const uuid = (description: string): JsonSchema => ({ type: "string", format: "uuid", description });

/** The envelope every event shares, around its payload. */
const eventSchema = (title: string, eventType: string, payload: JsonSchema): JsonSchema => ({
  title,
  type: "object",
  required: ["id", "eventType", "generatedDate", "payload"],
  properties: {
    id: uuid("Unique identifier of the event"),
    eventType: { type: "string", const: eventType },
    generatedDate: dateTime("When the event was generated, in UTC"),
    payload,
  },
});

export interface LinkError {
  statusCode: string;
  statusText: string;
  /** What went wrong, in the words the SMB would use. */
  message: string;
}

export interface LinkReminderPayload {
  companyId: string;
  companyName: string;
  connectionId: string;
  integrationKey: string;
  platformName: string;
  linkUrl: string;
  reason: "failed" | "deauthorized" | "abandoned" | "pending";
  lastError: LinkError | null;
  remindedAt: string;
}

const linkErrorSchema: JsonSchema = {
  type: ["object", "null"],
  required: ["statusCode", "statusText", "message"],
  properties: {
    statusCode: { type: "string", description: "The integration's status code, as in `dataConnectionErrors`" },
    statusText: { type: "string" },
    message: { type: "string", description: "What went wrong, in the words the SMB would use" },
  },
};

export interface AlertFigures {
  attempts: number;
  links: number;
  failures: number;
  deauthorizations: number;
  /** Failures over attempts; null without attempts. */
  failureRate: number | null;
}

export interface InsightAlertPayload {
  alertId: string;
  name: string;
  /** The integration the figures are for; null for all of the client's connections. */
  integrationKey: string | null;
  metric: string;
  threshold: { above?: number; below?: number };
  value: number | null;
  figures: AlertFigures;
  windowStart: string;
  windowEnd: string;
  /** When the episode started: the alert's time, repeated in its resolution. */
  raisedAt: string;
  resolvedAt?: string;
}

const alertPayloadSchema = (resolved: boolean): JsonSchema => ({
  type: "object",
  required: [
    "alertId",
    "name",
    "integrationKey",
    "metric",
    "threshold",
    "value",
    "figures",
    "windowStart",
    "windowEnd",
    "raisedAt",
    ...(resolved ? ["resolvedAt"] : []),
  ],
  properties: {
    alertId: uuid("The alert rule (`POST /insights/alerts`)"),
    name: { type: "string" },
    integrationKey: { type: ["string", "null"], description: "The integration the rule held for; null for all of the client's connections" },
    metric: { type: "string", enum: ["failureRate", "failures", "links", "deauthorizations"] },
    threshold: { type: "object", properties: { above: { type: "number" }, below: { type: "number" } } },
    value: { type: ["number", "null"], description: resolved ? "The metric when the rule stopped holding" : "The metric that tripped the rule" },
    figures: {
      type: "object",
      required: ["attempts", "links", "failures", "deauthorizations", "failureRate"],
      properties: {
        attempts: { type: "integer", description: "Links and failures in the window" },
        links: { type: "integer", description: "Connections linked or reconnected in the window" },
        failures: { type: "integer" },
        deauthorizations: { type: "integer" },
        failureRate: { type: ["number", "null"], description: "failures / attempts; null without attempts" },
      },
    },
    windowStart: dateTime("The start of the window the figures cover"),
    windowEnd: dateTime("The end of the window: when the rule was evaluated"),
    raisedAt: dateTime("When the rule started to hold"),
    ...(resolved ? { resolvedAt: dateTime("When the rule stopped holding") } : {}),
  },
});

const alertExample: InsightAlertPayload = {
  alertId: "0193a5f2-7c1d-7e44-9a1b-3f5e6d7c8b90",
  name: "Bank feeds failing",
  integrationKey: "sand",
  metric: "failureRate",
  threshold: { above: 0.3 },
  value: 0.45,
  figures: { attempts: 40, links: 22, failures: 18, deauthorizations: 0, failureRate: 0.45 },
  windowStart: "2024-08-13T08:30:00.000Z",
  windowEnd: "2024-08-13T09:30:00.000Z",
  raisedAt: "2024-08-13T09:30:00.000Z",
};

export const insightEvents: readonly EventTypeDefinition[] = [
  {
    eventType: LINK_REMINDER,
    description:
      "Hookline event. The client asked for a link reminder (POST /companies/{companyId}/connections/{connectionId}/link-reminder): the connection has a fresh link URL and the earlier ones no longer open its link page. Hookline sends nothing to the SMB; this event is for the client's own systems to send the reminder (an email, an SMS) with `linkUrl`.",
    schema: eventSchema("Connection link reminder webhook", LINK_REMINDER, {
      type: "object",
      required: ["companyId", "companyName", "connectionId", "integrationKey", "platformName", "linkUrl", "reason", "lastError", "remindedAt"],
      properties: {
        companyId: uuid("The company"),
        companyName: { type: "string" },
        connectionId: uuid("The connection"),
        integrationKey: { type: "string" },
        platformName: { type: "string" },
        linkUrl: { type: "string", format: "uri", description: "The fresh link URL to send the SMB" },
        reason: {
          type: "string",
          enum: ["failed", "deauthorized", "abandoned", "pending"],
          description:
            "Why the connection needed a reminder: its last link failed, it was deauthorized, its link page was abandoned, or it is still waiting to be opened",
        },
        lastError: linkErrorSchema,
        remindedAt: dateTime("When the reminder was asked for"),
      },
    }),
    example: {
      id: "0193a5f2-7c1d-7e44-9a1b-3f5e6d7c8b91",
      eventType: LINK_REMINDER,
      generatedDate: "2024-08-13T09:30:00.000Z",
      payload: {
        companyId: "8a210b68-6988-11ed-a1eb-0242ac120002",
        companyName: "Toft stores",
        connectionId: "2e9d2c44-f675-40ba-8049-353bfcb5e171",
        integrationKey: "sand",
        platformName: "Hookline Sandbox",
        linkUrl:
          "https://hookline.example.com/link/companies/8a210b68-6988-11ed-a1eb-0242ac120002/connections/2e9d2c44-f675-40ba-8049-353bfcb5e171/start?key=q2v9X0eYw1Lr8d4Tz6mB3nKc",
        reason: "failed",
        lastError: { statusCode: "403", statusText: "User cancelled linking", message: "Linking was cancelled on the consent screen, so nothing was shared." },
        remindedAt: "2024-08-13T09:30:00.000Z",
      } satisfies LinkReminderPayload,
    },
  },
  {
    eventType: INSIGHT_ALERT,
    description:
      "Hookline event. One of the client's connection insight alert rules (POST /insights/alerts) started to hold, for one integration or for all of the client's connections: the payload has the figures that tripped it. Sent once per episode; `connection.insight.resolved` follows when the rule stops holding.",
    schema: eventSchema("Connection insight alert webhook", INSIGHT_ALERT, alertPayloadSchema(false)),
    example: { id: "0193a5f2-7c1d-7e44-9a1b-3f5e6d7c8b92", eventType: INSIGHT_ALERT, generatedDate: "2024-08-13T09:30:00.000Z", payload: alertExample },
  },
  {
    eventType: INSIGHT_RESOLVED,
    description:
      "Hookline event. A connection insight alert rule that held (`connection.insight.alert`) no longer does, or was deleted: the episode is over, and the payload has the figures at the time.",
    schema: eventSchema("Connection insight resolved webhook", INSIGHT_RESOLVED, alertPayloadSchema(true)),
    example: {
      id: "0193a5f2-7c1d-7e44-9a1b-3f5e6d7c8b93",
      eventType: INSIGHT_RESOLVED,
      generatedDate: "2024-08-13T11:00:00.000Z",
      payload: {
        ...alertExample,
        value: 0.1,
        figures: { attempts: 30, links: 27, failures: 3, deauthorizations: 0, failureRate: 0.1 },
        windowStart: "2024-08-13T10:00:00.000Z",
        windowEnd: "2024-08-13T11:00:00.000Z",
        resolvedAt: "2024-08-13T11:00:00.000Z",
      } satisfies InsightAlertPayload,
    },
  },
];
