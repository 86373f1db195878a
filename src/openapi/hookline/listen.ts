import { MAX_LISTEN_STREAMS_PER_CLIENT } from "../../constants/limits.ts";
import type { JsonSchema } from "../codat.ts";
import { closedObject, consumerResponse } from "./consumers.ts";
import { errorResponse } from "./shared.ts";

const webhookId = { $ref: "#/components/parameters/webhookId" };
const deliveryId = { name: "deliveryId", in: "path", required: true, schema: { type: "string", format: "uuid" }, description: "A delivery the stream handed out" };
const common = { "401": errorResponse("Unauthorized"), "404": errorResponse("Webhook consumer not found") };

export const listenConsumerBody = closedObject({
  required: ["eventTypes"],
  properties: {
    eventTypes: { type: "array", minItems: 1, items: { type: "string" }, description: "The event types to hear, as for a webhook consumer (`*` for all)." },
    companyTags: { type: ["array", "null"], items: { type: "string" }, description: "`key:value` tags: only events about companies that carry one of them." },
  },
});

export const localAnswerBody = closedObject({
  required: ["durationMs"],
  properties: {
    statusCode: { type: ["integer", "null"], minimum: 100, maximum: 599, description: "The local receiver's HTTP status; null when it gave none." },
    response: { type: ["string", "null"], description: "The start of its answer's body." },
    error: { type: ["string", "null"], description: "Why there was no answer (connection refused, timeout)." },
    durationMs: { type: "integer", minimum: 0, description: "How long the local request took." },
  },
});

/** `hookline listen`: a temporary consumer whose deliveries a CLI takes over a stream and forwards to a local receiver. */
export const listenPaths: Record<string, Record<string, JsonSchema>> = {
  "/webhooks/listen": {
    post: {
      operationId: "create-listen-webhook-consumer",
      summary: "Create listen webhook consumer",
      description:
        "Hookline extension, for `hookline listen`. Creates a webhook consumer whose URL is `listen:<webhookId>`: its deliveries are never sent over HTTP but wait for its stream (`GET /webhooks/{webhookId}/stream`). Delete it with `DELETE /webhooks/{webhookId}` when done.",
      tags: ["Webhooks"],
      requestBody: { required: true, content: { "application/json": { schema: listenConsumerBody } } },
      responses: { "201": consumerResponse, "400": errorResponse("Invalid field"), "401": errorResponse("Unauthorized") },
    },
  },
  "/webhooks/{webhookId}/stream": {
    get: {
      operationId: "stream-listen-webhook-consumer",
      summary: "Stream listen webhook consumer deliveries",
      description:
        "Hookline extension. Server-Sent Events: first a `ready` event, its data `{ idleMs }` (the stream is never silent longer: an idle comment line follows each quiet spell), then one `delivery` event per delivery of the listen consumer, its data `{ deliveryId, messageId, body }` (the body exactly as signed), for every delivery that waits or comes while the stream is open, resent, recovered and replayed ones included. Report each one's local answer with `POST /webhooks/{webhookId}/stream/{deliveryId}`; what the stream handed out and was not answered when it closed goes out again on the consumer's next stream. Only the consumer's newest stream takes deliveries: an older one ends once a newer one opens. A stream whose reader stops reading is handed nothing more until what it was sent has left. A listen consumer with no stream open for `HOOKLINE_LISTEN_GRACE` is removed.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      responses: {
        "200": { description: "The event stream", content: { "text/event-stream": { schema: { type: "string" } } } },
        "400": errorResponse("Not a listen consumer"),
        "429": errorResponse(`The client has ${MAX_LISTEN_STREAMS_PER_CLIENT} streams open already in this process: close one first`),
        ...common,
      },
    },
  },
  "/webhooks/{webhookId}/stream/{deliveryId}": {
    post: {
      operationId: "report-listen-webhook-delivery",
      summary: "Report a streamed delivery's local answer",
      description:
        "Hookline extension. Records the local receiver's answer as the delivery's one attempt: `Success` for a 2xx, `Failure` otherwise (no retries, as with `stripe listen`). Each delivery is recorded once; a second report is refused.",
      tags: ["Webhooks"],
      parameters: [webhookId, deliveryId],
      requestBody: { required: true, content: { "application/json": { schema: localAnswerBody } } },
      responses: { "204": { description: "Recorded" }, "400": errorResponse("Not held by this stream, or an invalid field"), ...common },
    },
  },
};
