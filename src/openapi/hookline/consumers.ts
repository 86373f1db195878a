import type { JsonSchema } from "../codat.ts";
import { errorResponse } from "./shared.ts";

/** Hookline's own webhook consumer endpoints. */
export const consumerPaths: Record<string, Record<string, JsonSchema>> = {
  "/webhooks/{webhookId}": {
    get: {
      operationId: "get-webhook-consumer",
      summary: "Get webhook consumer",
      description: "Hookline extension. Returns one webhook consumer.",
      tags: ["Webhooks"],
      parameters: [{ $ref: "#/components/parameters/webhookId" }],
      responses: {
        "200": { description: "OK", content: { "application/json": { schema: { $ref: "#/components/schemas/WebhookConsumer" } } } },
        "401": errorResponse("Unauthorized"),
        "404": errorResponse("Not found"),
      },
    },
  },
  "/webhooks/{webhookId}/secret": {
    get: {
      operationId: "get-webhook-consumer-secret",
      summary: "Get webhook consumer signing secret",
      description:
        "Hookline extension. Returns the consumer's Standard Webhooks signing secret (`whsec_` and base64). Verify deliveries with any Standard Webhooks or Svix library: the signature covers `webhook-id.webhook-timestamp.body`.",
      tags: ["Webhooks"],
      parameters: [{ $ref: "#/components/parameters/webhookId" }],
      responses: {
        "200": {
          description: "OK",
          content: { "application/json": { schema: { type: "object", properties: { key: { type: "string", pattern: "^whsec_" } }, required: ["key"] } } },
        },
        "401": errorResponse("Unauthorized"),
        "404": errorResponse("Not found"),
      },
    },
  },
};
