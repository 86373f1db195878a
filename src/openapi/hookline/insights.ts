import { MAX_ALERT_RULES, MAX_ATTENTION_LIMIT } from "../../constants/limits.ts";
import type { JsonSchema } from "../codat.ts";
import { errorResponse } from "./shared.ts";

/**
 * Connection insight: the link funnel's figures, the connections that need
 * action, link reminders and alert rules. The parameter and body schemas here
 * are also what the routes validate requests with.
 */

const instantText = { type: "string", maxLength: 40, examples: ["2024-05-01T12:00:00Z", "2024-05-01"] };
const dateTime = (description: string): JsonSchema => ({ type: "string", format: "date-time", description });
const nullableMs = (description: string): JsonSchema => ({ type: ["integer", "null"], description });
const STEPS = ["opened", "chosen", "redirected", "returned"];

const insightParameters = [
  { name: "since", in: "query", description: "Connections created at or after this ISO 8601 date or date-time (with offset); a week before `until` by default.", schema: instantText },
  { name: "until", in: "query", description: "Connections created before this ISO 8601 date or date-time (with offset); now by default.", schema: instantText },
  {
    name: "groupBy",
    in: "query",
    description: "Figures per integration (`integration`), per latest error status code (`errorCode`), per UTC day of creation (`day`) or per value of a company tag (`tag:<key>`), beside the total.",
    schema: { type: "string", maxLength: 104, examples: ["integration", "errorCode", "day", "tag:region"] },
  },
];
const attentionParameters = [
  { name: "limit", in: "query", description: "At most this many connections, newest first.", schema: { type: "integer", minimum: 1, maximum: MAX_ATTENTION_LIMIT, default: 100 } },
];

const querySchema = (parameters: Array<{ name: string; schema: JsonSchema }>): JsonSchema => ({
  type: "object",
  properties: Object.fromEntries(parameters.map((parameter) => [parameter.name, parameter.schema])),
});
export const insightQuery = querySchema(insightParameters);
export const attentionQuery = querySchema(attentionParameters);

export const alertIdParams: JsonSchema = { type: "object", properties: { alertId: { type: "string", format: "uuid" } }, required: ["alertId"] };

const linkError: JsonSchema = {
  type: ["object", "null"],
  properties: {
    statusCode: { type: "string" },
    statusText: { type: "string" },
    message: { type: "string", description: "What went wrong, in the words the SMB would use" },
  },
  required: ["statusCode", "statusText", "message"],
};

const funnelFigures: Record<string, JsonSchema> = {
  created: { type: "integer", description: "Connections created in the range" },
  opened: { type: "integer", description: "Of those, how many had their link page opened" },
  linked: { type: "integer" },
  failed: { type: "integer", description: "Failed and never linked" },
  deauthorized: { type: "integer", description: "Of those, how many were linked and later deauthorized (their source took the access back)" },
  reconnected: { type: "integer", description: "Of those, how many were linked again after a deauthorization or disconnection" },
  abandoned: { type: "integer", description: "Opened longer than `abandonAfterMs` ago (HOOKLINE_LINK_ABANDON_AFTER), neither linked nor failed since" },
  abandonedAt: {
    type: "object",
    description: "The abandoned, by the furthest step reached: the link page opened, an integration chosen, sent to the integration (its consent shown), come back",
    properties: Object.fromEntries(STEPS.map((step) => [step, { type: "integer" }])),
    required: STEPS,
  },
  conversionRate: { type: ["number", "null"], description: "linked / created; null without connections" },
  medianTimeToLinkMs: nullableMs(
    "From creation to linking, the median of the linked: approximate, the middle of a bucket about 5% wide that holds it (within 2.5% of the exact median)",
  ),
  p90TimeToLinkMs: nullableMs("From creation to linking, the 90th percentile of the linked: approximate like the median, to the bucket"),
  topErrors: {
    type: "array",
    description: "The most frequent link errors of these connections, most frequent first (at most 5)",
    items: {
      type: "object",
      properties: { statusCode: { type: "string" }, statusText: { type: "string" }, count: { type: "integer" }, lastSeen: dateTime(
          "The latest failure with this error (grouped by `errorCode`, it can be that of a connection that failed again with another error, and so moved to that group)",
        ),
      },
      required: ["statusCode", "statusText", "count", "lastSeen"],
    },
  },
};

const connectionInsight: JsonSchema = {
  type: "object",
  title: "Connection insight",
  properties: {
    since: dateTime("The start of the range"),
    until: dateTime("The end of the range"),
    groupBy: { type: ["string", "null"] },
    abandonAfterMs: { type: "integer", description: "HOOKLINE_LINK_ABANDON_AFTER" },
    total: { type: "object", properties: funnelFigures, required: Object.keys(funnelFigures) },
    groups: {
      type: "array",
      description: "With `groupBy`: the figures of each group, by key; the connections without one (no such tag, no error) last, with a null key",
      items: { type: "object", properties: { key: { type: ["string", "null"] }, ...funnelFigures }, required: ["key", ...Object.keys(funnelFigures)] },
    },
  },
  required: ["since", "until", "groupBy", "abandonAfterMs", "total", "groups"],
};

const attentionItem: JsonSchema = {
  type: "object",
  properties: {
    companyId: { type: "string", format: "uuid" },
    companyName: { type: "string" },
    connectionId: { type: "string", format: "uuid" },
    integrationKey: { type: "string" },
    platformName: { type: "string" },
    reason: { type: "string", enum: ["failed", "deauthorized", "abandoned"] },
    since: dateTime("When it came to need action: the failure, the deauthorization, or the opening of the abandoned link page"),
    stoppedAt: { type: ["string", "null"], enum: [...STEPS, null], description: "For an abandoned link, the furthest step reached" },
    error: {
      ...linkError,
      description: "The failure in the SMB's words; for a deauthorized connection, that access was withdrawn and the company must link again, with the integration's status",
    },
    linkUrl: { type: "string", format: "uri", description: "The link URL to send the SMB" },
    remindedAt: { type: ["string", "null"], format: "date-time", description: "The latest link reminder" },
  },
  required: ["companyId", "companyName", "connectionId", "integrationKey", "platformName", "reason", "since", "stoppedAt", "error", "linkUrl", "remindedAt"],
};

const linkReminder: JsonSchema = {
  type: "object",
  title: "Link reminder",
  description: "What `connection.link.reminder` carries",
  properties: {
    companyId: { type: "string", format: "uuid" },
    companyName: { type: "string" },
    connectionId: { type: "string", format: "uuid" },
    integrationKey: { type: "string" },
    platformName: { type: "string" },
    linkUrl: { type: "string", format: "uri", description: "The fresh link URL; the earlier ones no longer open the link page" },
    reason: { type: "string", enum: ["failed", "deauthorized", "abandoned", "pending"] },
    lastError: linkError,
    remindedAt: dateTime("When the reminder was asked for"),
  },
  required: ["companyId", "companyName", "connectionId", "integrationKey", "platformName", "linkUrl", "reason", "lastError", "remindedAt"],
};

const ruleFields: Record<string, JsonSchema> = {
  name: { type: "string", minLength: 1, maxLength: 100 },
  metric: {
    type: "string",
    enum: ["failureRate", "failures", "links", "deauthorizations"],
    description: "Over the window: failures / (links + failures), failures, links (linked or reconnected), deauthorizations",
  },
  above: { type: "number", minimum: 0, description: "The rule holds when the metric is above this (give `above` or `below`)" },
  below: { type: "number", minimum: 0, description: "The rule holds when the metric is below this" },
  window: { type: "string", maxLength: 20, description: "The window the metric covers, ending at each evaluation: 30m, 1h, 1d (1s to 30d)", examples: ["1h"] },
  minAttempts: { type: "integer", minimum: 0, maximum: 1_000_000, description: "The rule does not hold with fewer link attempts (links and failures) in the window; 0 by default" },
  perIntegration: { type: "boolean", description: "Each integration on its own (each with steps in the window) rather than all connections together; false by default" },
};

export const alertRuleBody: JsonSchema = {
  type: "object",
  properties: ruleFields,
  required: ["name", "metric", "window"],
  additionalProperties: false,
};

const alertRule: JsonSchema = {
  type: "object",
  title: "Connection insight alert rule",
  properties: {
    id: { type: "string", format: "uuid" },
    ...ruleFields,
    created: dateTime("When the rule was made"),
    firing: {
      type: "array",
      description: "Where the rule holds now, each since when: an integration, or null for all connections",
      items: { type: "object", properties: { integrationKey: { type: ["string", "null"] }, since: dateTime("When the episode started") }, required: ["integrationKey", "since"] },
    },
  },
  required: ["id", "name", "metric", "window", "minAttempts", "perIntegration", "created", "firing"],
};

const json = (schema: JsonSchema, description = "OK") => ({ description, content: { "application/json": { schema } } });
const tags = ["Connection insight"];
const unauthorized = { "401": errorResponse("Unauthorized") };

export const insightPaths: Record<string, Record<string, JsonSchema>> = {
  "/insights/connections": {
    get: {
      operationId: "get-connection-insight",
      summary: "Connection link funnel",
      description:
        "Hookline extension. The link funnel of the client's connections created in the range: how many were created, had their link page opened, linked, failed, or were abandoned (and at which step), the conversion rate, the median and 90th percentile time from creation to linking, and the top errors; in total and, with `groupBy`, per group.",
      tags,
      parameters: insightParameters,
      responses: { "200": json(connectionInsight), "400": errorResponse("Invalid since, until or groupBy"), ...unauthorized },
    },
  },
  "/insights/connections/attention": {
    get: {
      operationId: "list-connections-needing-attention",
      summary: "Connections needing action",
      description:
        "Hookline extension. The client's connections that need action now, newest first: failed and never linked, deauthorized, or abandoned on the link page. Each with its link URL and the error in the SMB's words, for the client's team to call or email them. A Linked connection leaves the list.",
      tags,
      parameters: attentionParameters,
      responses: { "200": json({ type: "object", properties: { results: { type: "array", items: attentionItem } }, required: ["results"] }), "400": errorResponse("Invalid limit"), ...unauthorized },
    },
  },
  "/companies/{companyId}/connections/{connectionId}/link-reminder": {
    post: {
      operationId: "send-link-reminder",
      summary: "Link reminder",
      description:
        "Hookline extension. Gives a connection that is not linked a fresh link URL (the earlier ones, and every page, form and sign-in started from them, answer 410 with a page saying the link was replaced), records the reminder in its link journey and emits `connection.link.reminder`, for the client's systems to send the SMB an email or SMS. Hookline sends nothing to the SMB itself.",
      tags,
      parameters: [{ $ref: "#/components/parameters/companyId" }, { $ref: "#/components/parameters/connectionId" }],
      responses: {
        "200": json(linkReminder),
        "400": errorResponse("The connection is Linked"),
        ...unauthorized,
        "404": errorResponse("Company or connection not found"),
      },
    },
  },
  "/insights/alerts": {
    get: {
      operationId: "list-insight-alerts",
      summary: "List alert rules",
      description: "Hookline extension. The client's connection insight alert rules, oldest first, each with where it holds now.",
      tags,
      responses: { "200": json({ type: "object", properties: { results: { type: "array", items: alertRule } }, required: ["results"] }), ...unauthorized },
    },
    post: {
      operationId: "create-insight-alert",
      summary: "Create an alert rule",
      description:
        "Hookline extension. A rule on the client's link funnel, evaluated every HOOKLINE_INSIGHT_ALERT_INTERVAL over the window before it: when it starts to hold, `connection.insight.alert` is emitted with the figures that tripped it, and `connection.insight.resolved` when it stops (or the rule is deleted), once per episode. For example: failure rate of each integration above 0.3 over 1h with at least 20 attempts; links below 1 in 2h; deauthorizations above 5 in 1d.",
      tags,
      requestBody: {
        required: true,
        content: {
          "application/json": {
            schema: alertRuleBody,
            example: { name: "Bank feeds failing", metric: "failureRate", above: 0.3, window: "1h", minAttempts: 20, perIntegration: true },
          },
        },
      },
      responses: {
        "201": json(alertRule, "Created"),
        "400": errorResponse("Invalid rule"),
        ...unauthorized,
        "409": errorResponse(`The client has ${MAX_ALERT_RULES} alert rules already`),
      },
    },
  },
  "/insights/alerts/{alertId}": {
    delete: {
      operationId: "delete-insight-alert",
      summary: "Delete an alert rule",
      description: "Hookline extension. Deletes the rule; where it held, `connection.insight.resolved` is emitted.",
      tags,
      parameters: [{ name: "alertId", in: "path", required: true, description: "The alert rule's id.", schema: { type: "string", format: "uuid" } }],
      responses: { "204": { description: "Deleted" }, ...unauthorized, "404": errorResponse("Alert rule not found") },
    },
  },
};
