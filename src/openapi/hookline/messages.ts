import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from "../../constants/limits.ts";
import { DELIVERY_STATUSES } from "../../constants/statuses.ts";
import type { JsonSchema } from "../codat.ts";
import { errorResponse } from "./shared.ts";

/**
 * The message log and redelivery endpoints. The parameter and body schemas
 * here are also what the routes validate requests with, so the document and
 * the server cannot disagree.
 */

interface Parameter {
  name: string;
  in: "query" | "path";
  required?: boolean;
  description: string;
  schema: JsonSchema;
  style?: string;
  explode?: boolean;
}

const dateTime = (description: string): JsonSchema => ({ type: "string", format: "date-time", description });
const nullableDateTime = (description: string): JsonSchema => ({ type: ["string", "null"], format: "date-time", description });
const instantText = { type: "string", maxLength: 40, examples: ["2024-05-01T12:00:00Z", "2024-05-01"] };

export const messageIdSchema: JsonSchema = { type: "string", format: "uuid", description: "The message id: the event's `id`, sent as `webhook-id`." };

const webhookIdParameter = { $ref: "#/components/parameters/webhookId" };
const messageIdParameter: Parameter = { name: "messageId", in: "path", required: true, description: "Unique identifier of the message (the event id).", schema: messageIdSchema };

const pagingParameters: Parameter[] = [
  { name: "limit", in: "query", description: "Results per page.", schema: { type: "integer", minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT } },
  {
    name: "cursor",
    in: "query",
    description: "The `nextCursor` of the previous page, unchanged. Pages stay stable while new messages arrive.",
    schema: { type: "string", maxLength: 200 },
  },
];

const messageFilterParameters: Parameter[] = [
  {
    name: "eventType",
    in: "query",
    description: "Only messages of these event types (repeat the parameter for several).",
    schema: { type: "array", items: { type: "string", maxLength: 100 }, maxItems: 20 },
    style: "form",
    explode: true,
  },
  {
    name: "status",
    in: "query",
    description:
      "Only messages whose delivery has this status: at the consumer for a consumer's messages, at any consumer across consumers. `Sending`: no attempt yet; `Attempting`: failed, a retry is scheduled; `Success`; `Failure`: every attempt failed.",
    schema: { type: "string", enum: DELIVERY_STATUSES },
  },
  { name: "companyId", in: "query", description: "Only messages about this company.", schema: { type: "string", format: "uuid" } },
  { name: "since", in: "query", description: "Only messages generated at or after this ISO 8601 date or date-time (with offset).", schema: instantText },
  { name: "until", in: "query", description: "Only messages generated before this ISO 8601 date or date-time (with offset).", schema: instantText },
];

/** A querystring schema for the routes, made of the documented parameters. */
const querySchema = (parameters: Parameter[]): JsonSchema => ({
  type: "object",
  properties: Object.fromEntries(parameters.map((parameter) => [parameter.name, parameter.schema])),
});

export const messageListQuery = querySchema([...messageFilterParameters, ...pagingParameters]);
export const attemptListQuery = querySchema(pagingParameters);

export const redeliveryRangeBody: JsonSchema = {
  type: "object",
  properties: {
    since: { ...instantText, description: "Messages generated at or after this ISO 8601 date or date-time (with offset)." },
    until: { ...instantText, description: "Optional: only messages generated before this ISO 8601 date or date-time." },
  },
  required: ["since"],
};

const deliveryState: JsonSchema = {
  type: "object",
  description: "Where the message stands with one consumer.",
  properties: {
    webhookId: { type: "string", format: "uuid" },
    status: { type: "string", enum: DELIVERY_STATUSES },
    attemptCount: { type: "integer", description: "Attempts made, or skipped while the consumer was disabled, in the current schedule." },
    nextAttemptAt: nullableDateTime("When the next attempt is due (while an attempt is in flight, when it would be made again if its outcome went unrecorded); null once the delivery is final, and while its consumer's open circuit holds it (see the consumer's `circuit`)."),
    updatedAt: dateTime("When the delivery last changed."),
  },
  required: ["webhookId", "status", "attemptCount", "nextAttemptAt", "updatedAt"],
};

const messageProperties = {
  id: messageIdSchema,
  eventType: { type: "string" },
  companyId: { type: ["string", "null"], format: "uuid", description: "The company the event is about, if any." },
  generatedDate: dateTime("When the event was generated (its `generatedDate`)."),
  example: { type: "boolean", description: "An example event sent on request to one consumer." },
  payloadPurgedAt: nullableDateTime("When the payload was purged by payload retention (`HOOKLINE_PAYLOAD_RETENTION`); null while it is held."),
  deliveries: { type: "array", items: deliveryState, description: "The message's status at each consumer it was sent to (only the consumer's own in a consumer's list)." },
};

const messageSummary: JsonSchema = {
  type: "object",
  title: "Message",
  properties: messageProperties,
  required: Object.keys(messageProperties),
};

const messageDetails: JsonSchema = {
  type: "object",
  title: "Message with payload",
  properties: {
    ...messageProperties,
    payload: {
      type: ["object", "null"],
      description: "The webhook body exactly as sent (the event: `id`, `eventType`, `generatedDate`, `payload`); null once purged.",
    },
  },
  required: [...Object.keys(messageProperties), "payload"],
};

const attempt: JsonSchema = {
  type: "object",
  title: "Message attempt",
  properties: {
    id: { type: "string", format: "uuid" },
    messageId: messageIdSchema,
    webhookId: { type: "string", format: "uuid" },
    schedule: {
      type: "integer",
      minimum: 1,
      description: "1 for the message's first attempt schedule at this consumer; one more after each resend or recovery that restarted it.",
    },
    attemptNumber: { type: "integer", minimum: 1, description: "The attempt's place in its schedule (attempts skipped while the consumer was disabled count too)." },
    timestamp: dateTime("When the attempt started."),
    durationMs: { type: "integer", description: "From the request's sending to its answer or failure, waiting for a free connection to the consumer not included; 0 when it was not sent." },
    statusCode: { type: ["integer", "null"], description: "The consumer's HTTP status; null when no response came (timeout, refused connection...)." },
    responseExcerpt: { type: ["string", "null"], description: "The first KiB of the response body; null when no response came, or once the attempt is older than the payload retention (`HOOKLINE_PAYLOAD_RETENTION`)." },
    error: {
      type: ["string", "null"],
      description:
        "Why the attempt failed; null on success. `Outcome unknown: ...` when the worker or its sender thread stopped before the outcome was recorded: the attempt counts as failed and the next one follows the schedule.",
    },
    succeeded: { type: "boolean", description: "A 2xx status within the attempt timeout of the request's sending (a response body that then stalls or breaks off does not undo it)." },
  },
  required: ["id", "messageId", "webhookId", "schedule", "attemptNumber", "timestamp", "durationMs", "statusCode", "responseExcerpt", "error", "succeeded"],
};

const cursorPage = (items: JsonSchema, title: string): JsonSchema => ({
  type: "object",
  title,
  properties: {
    results: { type: "array", items },
    nextCursor: { type: ["string", "null"], description: "Pass as `cursor` for the next page; null on the last page." },
    hasMore: { type: "boolean" },
  },
  required: ["results", "nextCursor", "hasMore"],
});

const redeliveryResult: JsonSchema = {
  type: "object",
  title: "Scheduled redelivery",
  properties: {
    scheduled: { type: "integer", description: "Messages whose delivery was scheduled." },
    skippedPurged: { type: "integer", description: "Messages left out because their payload was purged." },
    ratePerSecond: { type: "integer", description: "The pace: the consumer's rate limit, or `HOOKLINE_RECOVERY_RATE` when it has none." },
    lastDueAt: nullableDateTime("When the last scheduled delivery is due."),
  },
  required: ["scheduled", "skippedPurged", "ratePerSecond", "lastDueAt"],
};

const json = (schema: JsonSchema, description = "OK") => ({ description, content: { "application/json": { schema } } });
const listErrors = { "400": errorResponse("Invalid filter, limit or cursor"), "401": errorResponse("Unauthorized") };
const redeliveryErrors = {
  "400": errorResponse("Invalid request"),
  "401": errorResponse("Unauthorized"),
  "404": errorResponse("Webhook consumer or message not found"),
  "409": errorResponse("The webhook consumer is disabled: enable it first"),
  "410": errorResponse("The payload was purged by payload retention, so the message cannot be sent"),
};
const tags = ["Messages"];

const rangeRequestBody = (what: string) => ({
  required: true,
  description: what,
  content: { "application/json": { schema: redeliveryRangeBody, example: { since: "2024-05-01T00:00:00Z" } } },
});

export const messagePaths: Record<string, Record<string, JsonSchema>> = {
  "/messages": {
    get: {
      operationId: "list-messages",
      summary: "List messages",
      description: "Hookline extension. The client's messages (events) newest first, each with its status at every consumer it was sent to. Cursor-paged.",
      tags,
      parameters: [...messageFilterParameters, ...pagingParameters],
      responses: { "200": json(cursorPage(messageSummary, "Messages")), ...listErrors },
    },
  },
  "/messages/{messageId}": {
    get: {
      operationId: "get-message",
      summary: "Get message",
      description:
        "Hookline extension. One message with its payload (null once purged) and its status at every consumer. Messages older than the message retention (`HOOKLINE_MESSAGE_RETENTION`) are deleted with their deliveries and attempts, and then not found.",
      tags,
      parameters: [messageIdParameter],
      responses: { "200": json(messageDetails), "400": errorResponse("Malformed message id"), "401": errorResponse("Unauthorized"), "404": errorResponse("Not found") },
    },
  },
  "/messages/{messageId}/attempts": {
    get: {
      operationId: "list-message-attempts",
      summary: "List message attempts",
      description: "Hookline extension. Every attempt to deliver the message, at every consumer, newest first. Cursor-paged.",
      tags,
      parameters: [messageIdParameter, ...pagingParameters],
      responses: { "200": json(cursorPage(attempt, "Message attempts")), ...listErrors, "404": errorResponse("Not found") },
    },
  },
  "/webhooks/{webhookId}/messages": {
    get: {
      operationId: "list-webhook-consumer-messages",
      summary: "List webhook consumer messages",
      description: "Hookline extension. The messages sent, or being sent, to one consumer, newest first, with their status there. Cursor-paged.",
      tags,
      parameters: [webhookIdParameter, ...messageFilterParameters, ...pagingParameters],
      responses: { "200": json(cursorPage(messageSummary, "Messages")), ...listErrors, "404": errorResponse("Not found") },
    },
  },
  "/webhooks/{webhookId}/messages/{messageId}/attempts": {
    get: {
      operationId: "list-webhook-consumer-message-attempts",
      summary: "List message attempts at a webhook consumer",
      description: "Hookline extension. The attempts to deliver one message to one consumer, newest first. Cursor-paged.",
      tags,
      parameters: [webhookIdParameter, messageIdParameter, ...pagingParameters],
      responses: { "200": json(cursorPage(attempt, "Message attempts")), ...listErrors, "404": errorResponse("Not found") },
    },
  },
  "/webhooks/{webhookId}/messages/{messageId}/resend": {
    post: {
      operationId: "resend-message",
      summary: "Resend message",
      description:
        "Hookline extension. Sends the message to the consumer again, now, with a fresh attempt schedule: the same `webhook-id` and body bytes, whatever the consumer's filters and whether or not it got the message before. Earlier attempts stay in the log under the previous schedule number.",
      tags,
      parameters: [webhookIdParameter, messageIdParameter],
      responses: { "202": json(deliveryState, "Accepted: the delivery is scheduled"), ...redeliveryErrors },
    },
  },
  "/webhooks/{webhookId}/recover": {
    post: {
      operationId: "recover-webhook-consumer-messages",
      summary: "Recover failed messages",
      description:
        "Hookline extension. Schedules again, oldest first, every message generated in the range whose delivery to the consumer ended in `Failure`, each with a fresh attempt schedule, paced at the consumer's rate limit (or `HOOKLINE_RECOVERY_RATE` messages per second). Messages whose payload was purged are skipped and counted; 410 when every one was.",
      tags,
      parameters: [webhookIdParameter],
      requestBody: rangeRequestBody("The range of message generation times to recover."),
      responses: { "202": json(redeliveryResult, "Accepted: the deliveries are scheduled"), ...redeliveryErrors },
    },
  },
  "/webhooks/{webhookId}/replay": {
    post: {
      operationId: "replay-webhook-consumer-messages",
      summary: "Replay missed messages",
      description:
        "Hookline extension. Sends, oldest first and paced like recovery, the messages generated in the range that the consumer's current event types and company tags match but that it never got (it was disabled, created later or subscribed later). Example events are not replayed; tag filters match the company's current tags.",
      tags,
      parameters: [webhookIdParameter],
      requestBody: rangeRequestBody("The range of message generation times to replay."),
      responses: { "202": json(redeliveryResult, "Accepted: the deliveries are scheduled"), ...redeliveryErrors },
    },
  },
  "/webhooks/{webhookId}/retry-now": {
    post: {
      operationId: "retry-webhook-consumer-pending-now",
      summary: "Retry pending messages now",
      description:
        "Hookline extension. The consumer's deliveries still `Sending` or `Attempting` that wait for their next attempt become due now, oldest first and paced like recovery (the consumer's rate limit, or `HOOKLINE_RECOVERY_RATE` messages per second). Their status and attempt count stay: this is the next attempt of their schedule, made sooner. Deliveries in flight, held by an open circuit or a fifo line, or waiting for a rate-limit slot are left as they are.",
      tags,
      parameters: [webhookIdParameter],
      responses: {
        "202": json(redeliveryResult, "Accepted: the deliveries are due"),
        "400": errorResponse("Malformed webhook id"),
        "401": errorResponse("Unauthorized"),
        "404": errorResponse("Webhook consumer not found"),
        "409": errorResponse("The webhook consumer is disabled: enable it first"),
      },
    },
  },
};
