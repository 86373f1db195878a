import { MAX_BATCH_EVENTS, MAX_IDEMPOTENCY_KEY_LENGTH } from "../../constants/limits.ts";
import type { JsonSchema } from "../codat.ts";
import { errorResponse } from "./shared.ts";

/**
 * Hookline's event endpoints: the catalog, publishing events, sending
 * examples. The request body schemas here are also the routes' validation
 * schemas, so the document and the server cannot disagree.
 */
export const publishRequestSchema: JsonSchema = {
  type: "object",
  required: ["eventType", "payload"],
  properties: {
    eventType: { type: "string", minLength: 1, description: "A publishable catalog type; name the data type for `{dataType}` types, e.g. `invoices.write.successful`.", example: "read.completed" },
    companyId: {
      type: "string",
      format: "uuid",
      description: "The company the event is about: its tags drive the consumers' tag filters. Defaults to `payload.referenceCompany.id`; without either the event concerns no company and goes only to consumers without company tags.",
    },
    payload: { type: "object", description: "The event's payload, as the event type's schema in the catalog describes it. `referenceCompany` is filled in from the company when left out." },
  },
};

export const publishBatchSchema: JsonSchema = {
  type: "object",
  required: ["events"],
  properties: { events: { type: "array", minItems: 1, maxItems: MAX_BATCH_EVENTS, items: publishRequestSchema } },
};

export const exampleRequestSchema: JsonSchema = {
  type: "object",
  required: ["eventType"],
  properties: { eventType: { type: "string", minLength: 1, description: "Any catalog type; name the data type for `{dataType}` types.", example: "connection.failed" } },
};

const eventSchema: JsonSchema = {
  type: "object",
  description: "The event exactly as consumers receive it.",
  properties: {
    id: { type: "string", format: "uuid", description: "The event (message) id: `webhook-id` on every delivery of it." },
    eventType: { type: "string" },
    generatedDate: { type: "string", format: "date-time" },
    payload: { type: "object" },
  },
  required: ["id", "eventType", "generatedDate", "payload"],
};

/** The client's API quota (HOOKLINE_DAILY_QUOTA) is used up until the time in Retry-After; Codat's own response. */
const tooManyRequests = { $ref: "#/components/responses/Too-Many-Requests" };

const idempotencyKeyParameter = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  schema: { type: "string", minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH, pattern: "^[\\x21-\\x7e]+$" },
  description:
    "Makes a retried publish safe: a request repeating a key of this client within the key's lifetime (24 hours by default, `HOOKLINE_IDEMPOTENCY_KEY_TTL`) publishes nothing and answers 200 with the original result and `Idempotent-Replayed: true`. The same key with a different request is a 422.",
};

const replayedHeader = { "Idempotent-Replayed": { description: "`true`: an earlier request with this Idempotency-Key published it.", schema: { type: "string", enum: ["true"] } } };

const publishResponses = (created: JsonSchema) => ({
  "200": { description: "Replay: an earlier request with the same Idempotency-Key published this; nothing was published again", headers: replayedHeader, content: { "application/json": { schema: created } } },
  "201": { description: "Published: recorded and queued for every matching consumer", content: { "application/json": { schema: created } } },
  "400": errorResponse("Invalid request, an unknown or non-publishable event type, or an event that does not match its type's schema (each problem in `validation.errors`, named by its path, e.g. `body/events/3/payload/dataTypes/0/status`)"),
  "401": errorResponse("Unauthorized"),
  "422": errorResponse("The Idempotency-Key was already used with a different request"),
  "429": tooManyRequests,
});

export const eventPaths: Record<string, Record<string, JsonSchema>> = {
  "/events/catalog": {
    get: {
      operationId: "get-event-catalog",
      summary: "Get event catalog",
      description:
        "Hookline extension. Every event type consumers can subscribe to, with its description, whether the operator may publish it, a standalone JSON Schema (2020-12; every component it uses under `$defs`) of the whole event body, and an example.",
      tags: ["Events"],
      responses: {
        "200": {
          description: "OK",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: {
                  results: {
                    type: "array",
                    items: {
                      type: "object",
                      properties: {
                        eventType: { type: "string", example: "connection.failed" },
                        description: { type: "string" },
                        publishable: { type: "boolean", description: "Whether `POST /events` accepts it; Hookline emits company.created/deleted, connection.* and client.rateLimit.* itself." },
                        schema: { type: "object", description: "JSON Schema of the event body." },
                        example: { type: "object" },
                        replacedBy: { type: "array", items: { type: "string" }, description: "On legacy rule types only: the event types that replace it." },
                      },
                      required: ["eventType", "description", "publishable", "schema", "example"],
                    },
                  },
                },
                required: ["results"],
              },
            },
          },
        },
        "401": errorResponse("Unauthorized"),
        "429": tooManyRequests,
      },
    },
  },
  "/events": {
    post: {
      operationId: "publish-event",
      summary: "Publish event",
      description:
        "Hookline extension, for the operator's own systems (e.g. `read.completed` from a data-sync engine). Publishes an event of a publishable catalog type (reads, writes, products) for one of the client's companies: the whole body (`id`, `eventType`, `generatedDate`, `payload`) is validated against the type's schema, recorded, and delivered to every consumer whose event types and company tags match.",
      tags: ["Events"],
      parameters: [idempotencyKeyParameter],
      requestBody: { required: true, content: { "application/json": { schema: publishRequestSchema } } },
      responses: { ...publishResponses(eventSchema), "404": errorResponse("Company not found") },
    },
  },
  "/events/batch": {
    post: {
      operationId: "publish-events",
      summary: "Publish events in a batch",
      description: `Hookline extension. Publishes 1 to ${MAX_BATCH_EVENTS} events in one transaction, all or nothing: if any event is invalid (including an unknown company), none is published and the 400 lists every problem under its index.`,
      tags: ["Events"],
      parameters: [idempotencyKeyParameter],
      requestBody: { required: true, content: { "application/json": { schema: publishBatchSchema } } },
      responses: publishResponses({ type: "object", properties: { results: { type: "array", items: eventSchema } }, required: ["results"] }),
    },
  },
  "/webhooks/{webhookId}/examples": {
    post: {
      operationId: "send-example-event",
      summary: "Send example event",
      description:
        "Hookline extension. Sends the catalog's example of an event type (with a fresh id and generatedDate) to this consumer only, whatever it subscribed to: signed and retried like any delivery, and marked as an example in the message log.",
      tags: ["Webhooks"],
      parameters: [{ $ref: "#/components/parameters/webhookId" }],
      requestBody: { required: true, content: { "application/json": { schema: exampleRequestSchema } } },
      responses: {
        "202": { description: "Accepted: the example is queued for the consumer", content: { "application/json": { schema: eventSchema } } },
        "400": errorResponse("Unknown event type"),
        "401": errorResponse("Unauthorized"),
        "404": errorResponse("Webhook consumer not found"),
        "409": errorResponse("The consumer is disabled"),
        "429": tooManyRequests,
      },
    },
  },
};
