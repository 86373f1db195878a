import { MAX_MIGRATION_REPORT_DELIVERIES, MIGRATION_REPORT_EXAMPLES } from "../../constants/limits.ts";
import type { JsonSchema } from "../codat.ts";
import { closedObject, common, json, ok } from "./consumers.ts";
import { errorResponse } from "./shared.ts";

/**
 * A legacy rule consumer's migration to event types, expand and contract
 * (README, "Migrating from legacy rules"), and the consumer history its steps
 * are written to. The body and query schemas here are also what the routes
 * validate requests with.
 */

const instantText = { type: "string", maxLength: 40, examples: ["2024-05-01T12:00:00Z", "2024-05-01"] };
const reportParameters = [
  { name: "since", in: "query", description: "Deliveries created at or after this ISO 8601 date or date-time (with offset); the replacement's creation by default.", schema: instantText },
  { name: "until", in: "query", description: "Deliveries created before this ISO 8601 date or date-time (with offset); now by default.", schema: instantText },
];
export const reportQuery: JsonSchema = { type: "object", properties: Object.fromEntries(reportParameters.map((parameter) => [parameter.name, parameter.schema])) };

/** Optional: a request without a body expands to the legacy consumer's URL, recording the shadow deliveries (null is what Fastify validates then). */
export const expandBody: JsonSchema = { ...expandBodyObject(), type: ["object", "null"] };

function expandBodyObject(): JsonSchema {
  return closedObject({
  properties: {
    url: { type: "string", format: "uri", description: "The replacement's URL, checked like a new consumer's; the legacy consumer's URL when absent." },
    testUrl: {
      type: "string",
      format: "uri",
      description: "Where the replacement's deliveries go while it is in shadow mode, signed with its secret; without one they are built and recorded, with no request made.",
    },
  },
  });
}

const legacyWebhookId = { name: "webhookId", in: "path", required: true, description: "The legacy rule consumer being migrated.", schema: { type: "string", format: "uuid" } };

const status: JsonSchema = {
  type: "object",
  properties: {
    legacyWebhookId: { type: "string", format: "uuid" },
    state: {
      type: "string",
      enum: ["legacy", "shadow", "switched"],
      description: "`legacy`: not started; `shadow`: the replacement records what it would get; `switched`: the replacement is live and the legacy consumer disabled.",
    },
    replacementWebhookId: { type: ["string", "null"], format: "uuid" },
    testUrl: { type: ["string", "null"], description: "Where the shadow replacement's deliveries go; null when they are recorded without a request (or once switched)." },
  },
  required: ["legacyWebhookId", "state", "replacementWebhookId", "testUrl"],
};
const statusResponse = ok("Where the migration stands now", status);
const stepErrors = { ...common, "400": errorResponse("The consumer names no legacy rule types"), "409": errorResponse("The step does not apply now (the message says which does)") };

const item: JsonSchema = {
  type: "object",
  properties: {
    deliveryId: { type: "string" },
    messageId: { type: "string" },
    eventType: { type: "string", description: "A legacy rule type on the legacy side, an event type on the new side." },
    status: { type: "string" },
    createdAt: { type: "string", format: "date-time" },
  },
  required: ["deliveryId", "messageId", "eventType", "status", "createdAt"],
};
const counts: JsonSchema = { type: "object", additionalProperties: { type: "integer" } };
const examples = (items: JsonSchema): JsonSchema => ({ type: "array", maxItems: MIGRATION_REPORT_EXAMPLES, items });

const report: JsonSchema = {
  type: "object",
  properties: {
    legacyWebhookId: { type: "string", format: "uuid" },
    replacementWebhookId: { type: "string", format: "uuid" },
    since: { type: "string", format: "date-time" },
    until: { type: "string", format: "date-time" },
    truncated: { type: "boolean", description: `True when a side had more than ${MAX_MIGRATION_REPORT_DELIVERIES} deliveries in the window: the first ones were compared; shorten the window.` },
    counts: {
      type: "object",
      properties: { legacy: { type: "integer" }, new: { type: "integer" }, matched: { type: "integer" }, legacyOnly: { type: "integer" }, newOnly: { type: "integer" } },
      required: ["legacy", "new", "matched", "legacyOnly", "newOnly"],
    },
    legacyOnlyByType: { ...counts, description: "Legacy-only deliveries by rule type and the event type of the change they came from: the event types the replacement lacks." },
    newOnlyByType: { ...counts, description: "New-only deliveries by event type: changes the replacement hears about that no legacy rule covered." },
    covered: { type: "boolean", description: "True when every legacy delivery of the window has its match: the replacement covers everything the legacy consumer got." },
    examples: {
      type: "object",
      properties: {
        matched: examples({ type: "object", properties: { sourceMessageId: { type: "string" }, legacy: item, new: item }, required: ["sourceMessageId", "legacy", "new"] }),
        legacyOnly: examples({
          allOf: [item, { type: "object", properties: { sourceMessageId: { type: ["string", "null"] }, sourceEventType: { type: ["string", "null"] } }, required: ["sourceMessageId", "sourceEventType"] }],
        }),
        newOnly: examples(item),
      },
      required: ["matched", "legacyOnly", "newOnly"],
    },
  },
  required: ["legacyWebhookId", "replacementWebhookId", "since", "until", "truncated", "counts", "legacyOnlyByType", "newOnlyByType", "covered", "examples"],
};

const step = (action: string, summary: string, description: string, operationId: string) => ({
  [`/webhooks/migration/{webhookId}/${action}`]: {
    post: { operationId, summary, description: `Hookline extension. ${description} Written to the consumers' histories.`, tags: ["Webhooks"], parameters: [legacyWebhookId], responses: { "200": statusResponse, ...stepErrors } },
  },
});

export const migrationPaths: Record<string, Record<string, JsonSchema>> = {
  "/webhooks/migration": {
    get: {
      operationId: "list-webhook-migration-candidates",
      summary: "List consumers on legacy rule types",
      description:
        "Hookline extension. Each consumer that still names legacy rule types, with the subscription that replaces it (its event types with each rule type replaced by its event types, README \"Legacy rule webhooks\"; the same company tags) and how far its migration went.",
      tags: ["Webhooks"],
      responses: {
        "200": ok("Consumers on legacy rule types, with their proposed replacements", {
          type: "object",
          properties: {
            results: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  webhookId: { type: "string", format: "uuid" },
                  url: { type: "string" },
                  disabled: { type: "boolean" },
                  legacyEventTypes: { type: "array", items: { type: "string" } },
                  proposedEventTypes: { type: "array", items: { type: "string" } },
                  companyTags: { type: "array", items: { type: "string" } },
                  migration: status,
                },
                required: ["webhookId", "url", "disabled", "legacyEventTypes", "proposedEventTypes", "companyTags", "migration"],
              },
            },
          },
          required: ["results"],
        }),
        "401": errorResponse("Unauthorized"),
      },
    },
  },
  "/webhooks/migration/{webhookId}/expand": {
    post: {
      operationId: "expand-webhook-migration",
      summary: "Create a legacy consumer's replacement in shadow mode",
      description:
        "Hookline extension. Creates the replacement consumer: the proposed event types, the same company tags, the legacy consumer's URL or `url`. It starts in shadow mode: its deliveries are built, signed and recorded but never sent to its URL; they go to `testUrl` when given, or are recorded with no request made. Written to both consumers' histories. Revert deletes it again.",
      tags: ["Webhooks"],
      parameters: [legacyWebhookId],
      requestBody: { required: false, content: json(expandBody) },
      responses: { "201": ok("The migration, now in shadow mode", status), ...stepErrors, "400": errorResponse("Invalid URL or test URL, the consumer names no legacy rule types, or the client has the most webhook consumers it may have") },
    },
  },
  "/webhooks/migration/{webhookId}/report": {
    get: {
      operationId: "get-webhook-migration-report",
      summary: "Compare a legacy consumer's deliveries with its replacement's",
      description:
        "Hookline extension. Pairs each delivery the legacy consumer got in the window with the replacement's delivery of the same change (the event its alert was rendered from): matched, legacy-only (the replacement lacks an event type or company tag the legacy rule covered) and new-only, with counts by type and a few examples of each. `covered` says whether the replacement got everything the legacy consumer did.",
      tags: ["Webhooks"],
      parameters: [legacyWebhookId, ...reportParameters],
      responses: { "200": ok("The comparison", report), ...stepErrors, "400": errorResponse("Invalid window, or the consumer names no legacy rule types") },
    },
  },
  ...step("switch", "Switch to the replacement", "The replacement goes live (shadow mode off) and the legacy consumer is disabled, at once. Revert undoes it.", "switch-webhook-migration"),
  ...step(
    "revert",
    "Undo a migration's last step",
    "After a switch: the replacement goes back to shadow mode and the legacy consumer is enabled again. In shadow mode: the replacement is deleted, with what it recorded.",
    "revert-webhook-migration",
  ),
  "/webhooks/migration/{webhookId}/contract": {
    post: {
      operationId: "contract-webhook-migration",
      summary: "Delete the legacy consumer after the switch",
      description: "Hookline extension. Deletes the legacy consumer, once switched; not reversible. Written to the replacement's history.",
      tags: ["Webhooks"],
      parameters: [legacyWebhookId],
      responses: {
        "200": ok("The deleted legacy consumer and its replacement", {
          type: "object",
          properties: { deletedWebhookId: { type: "string", format: "uuid" }, replacementWebhookId: { type: "string", format: "uuid" } },
          required: ["deletedWebhookId", "replacementWebhookId"],
        }),
        ...stepErrors,
      },
    },
  },
  "/webhooks/{webhookId}/history": {
    get: {
      operationId: "list-webhook-consumer-history",
      summary: "List a webhook consumer's history",
      description: "Hookline extension. The steps recorded for the consumer, oldest first: each step of a legacy migration (`migration.expanded`, `migration.switched`, `migration.reverted`, `migration.contracted`) with the consumers it concerned.",
      tags: ["Webhooks"],
      parameters: [{ $ref: "#/components/parameters/webhookId" }],
      responses: {
        "200": ok("The consumer's history", {
          type: "object",
          properties: {
            results: {
              type: "array",
              items: {
                type: "object",
                properties: { at: { type: "string", format: "date-time" }, action: { type: "string" }, detail: { type: "object" } },
                required: ["at", "action", "detail"],
              },
            },
          },
          required: ["results"],
        }),
        ...common,
      },
    },
  },
};
