import { codatDocument, type JsonSchema } from "./codat.ts";

/** The Codat operations Hookline implements; the served document keeps exactly these. */
const CODAT_OPERATIONS = new Set([
  "list-companies", "create-company", "get-company", "replace-company", "update-company", "delete-company",
  "list-connections", "create-connection", "get-connection", "delete-connection", "unlink-connection", "update-connection-authorization",
  "list-integrations", "get-integration",
  "list-webhook-consumers", "create-webhook-consumer", "delete-webhook-consumer",
  "list-api-keys", "create-api-key", "delete-api-key",
]);

const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorMessage" } } } });

/** Hookline's own endpoints, beside Codat's, in the same document. */
const HOOKLINE_PATHS: Record<string, Record<string, JsonSchema>> = {
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

/** The OpenAPI document this server serves: Codat's shared operations, Hookline's additions, and the event catalog. */
export function servedDocument(publicUrl: string): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, operations] of Object.entries(codatDocument.paths)) {
    const kept = Object.fromEntries(
      Object.entries(operations).filter(([, operation]) => CODAT_OPERATIONS.has((operation as { operationId?: string }).operationId ?? "")),
    );
    if (Object.keys(kept).length > 0) paths[path] = kept;
  }
  for (const [path, operations] of Object.entries(HOOKLINE_PATHS)) paths[path] = { ...paths[path], ...operations };
  return {
    ...codatDocument,
    info: {
      title: "Hookline API",
      version: "0.1.0",
      description: "Hookline's API: the Codat Platform API operations it shares (companies, connections, integrations, webhook consumers, API keys) and Hookline's own extensions. Webhook events are listed under `webhooks` and signed with Standard Webhooks.",
    },
    servers: [{ url: publicUrl, description: "This Hookline server" }],
    paths,
  };
}
