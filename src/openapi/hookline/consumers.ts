import {
  MAX_CONSUMER_DESCRIPTION_LENGTH,
  MAX_CONSUMER_RATE_LIMIT,
  MAX_CUSTOM_HEADERS,
  MAX_TAG_KEY_LENGTH,
  MAX_TAG_VALUE_LENGTH,
  RESERVED_HEADER_NAMES,
} from "../../constants/limits.ts";
import { CONSUMER_ORDERINGS } from "../../constants/statuses.ts";
import type { JsonSchema } from "../codat.ts";
import { errorResponse } from "./shared.ts";

/** Codat's WebhookConsumer and the fields Hookline adds to it. */
const consumerSchema: JsonSchema = {
  allOf: [
    { $ref: "#/components/schemas/WebhookConsumer" },
    {
      type: "object",
      properties: {
        description: { type: ["string", "null"], description: "Hookline extension. A note about the consumer." },
        rateLimit: { type: ["integer", "null"], minimum: 1, description: "Hookline extension. Most messages per second sent to the consumer, across all workers; null is unlimited." },
        slowConcurrency: {
          type: ["integer", "null"],
          minimum: 1,
          description:
            "Hookline extension. While the consumer is slow (attempts left unanswered while the rest of their batch came back, or past the operator's slow-consumer time), the most attempts a worker keeps in flight to it at once; the others wait without spending attempts. Null: the operator's default (HOOKLINE_SLOW_CONSUMER_CONCURRENCY, 16).",
        },
        ordering: {
          type: "string",
          enum: CONSUMER_ORDERINGS,
          description: "Hookline extension. `fifo`: the consumer's deliveries go one at a time in event order, and a failing one holds those behind it until it succeeds or fails for good; `fifo-by-company`: the same for each company's deliveries, the companies concurrently (a failing one holds only its company's later deliveries; events without a company form one line of their own); `unordered` (the default): concurrently.",
        },
        circuit: {
          description:
            "Hookline extension. The consumer's circuit breaker (when the operator turned it on): the attempts in a row that found it unreachable (no answer, or a 5xx), and while its circuit is `open`, when the next probe goes. While open its deliveries wait without spending attempts; the first probe that gets an answer closes it and they are sent.",
          type: "object",
          properties: {
            state: { type: "string", enum: ["closed", "open"] },
            consecutiveFailures: { type: "integer", minimum: 0 },
            nextProbeAt: { type: ["string", "null"], format: "date-time" },
          },
          required: ["state", "consecutiveFailures", "nextProbeAt"],
        },
        secretOverlapEndsAt: {
          type: ["string", "null"],
          format: "date-time",
          description:
            "Hookline extension. After a signing secret rotation, when the rotated-out secret stops signing deliveries beside the current one (`HOOKLINE_SECRET_ROTATION_OVERLAP` after the rotation); null when no rotated-out secret signs.",
        },
        shadow: {
          description:
            "Hookline extension. Set while the consumer is in shadow mode, as a legacy consumer's replacement before its switch (README, \"Migrating from legacy rules\"): its deliveries are built and recorded but never sent to its URL; they go to `testUrl` when it has one.",
          oneOf: [{ type: "object", properties: { testUrl: { type: ["string", "null"] } }, required: ["testUrl"] }, { type: "null" }],
        },
        replacesWebhookId: { type: ["string", "null"], description: "Hookline extension. The legacy rule consumer this one replaces (its migration's expand step made it); null for others." },
        mtls: {
          description: "Hookline extension. The client certificate presented for mTLS (never its key); null when mTLS is off.",
          oneOf: [
            { type: "object", properties: { subject: { type: "string" }, expiresAt: { type: "string", format: "date-time" } }, required: ["subject", "expiresAt"] },
            { type: "null" },
          ],
        },
      },
    },
  ],
};

export const json = (schema: JsonSchema) => ({ "application/json": { schema } });
export const ok = (description: string, schema: JsonSchema) => ({ description, content: json(schema) });
export const consumerResponse = ok("The webhook consumer", consumerSchema);
const webhookId = { $ref: "#/components/parameters/webhookId" };
export const common = { "401": errorResponse("Unauthorized"), "404": errorResponse("Webhook consumer not found") };

/**
 * An object schema that refuses unknown fields. Fastify's validator drops
 * fields that `additionalProperties: false` forbids instead of refusing them,
 * so `propertyNames` is what turns a misspelt field into a 400.
 */
export const closedObject = (schema: { properties: Record<string, JsonSchema> } & JsonSchema): JsonSchema => ({
  type: "object",
  ...schema,
  additionalProperties: false,
  propertyNames: { enum: Object.keys(schema.properties) },
});

/** Request bodies, also used by the routes to validate requests. */
export const consumerUpdateBody = closedObject({
  minProperties: 1,
  properties: {
    url: { type: "string", format: "uri", description: "Checked like on create: http(s), resolving only to global unicast addresses unless the operator allow-listed them; a host that does not resolve is refused like a private one." },
    eventTypes: { type: "array", minItems: 1, items: { type: "string" }, description: "Catalog event types, or legacy rule types (delivered as the legacy flat payload); unknown ones are refused with the list of valid ones." },
    companyTags: { type: ["array", "null"], maxItems: 10, items: { type: "string", maxLength: MAX_TAG_KEY_LENGTH + 1 + MAX_TAG_VALUE_LENGTH }, description: "`key:value` tags; null or empty for every company." },
    description: { type: ["string", "null"], maxLength: MAX_CONSUMER_DESCRIPTION_LENGTH },
    disabled: { type: "boolean" },
    rateLimit: { type: ["integer", "null"], minimum: 1, maximum: MAX_CONSUMER_RATE_LIMIT, description: "Messages per second; null removes the limit." },
    slowConcurrency: {
      type: ["integer", "null"],
      minimum: 1,
      description:
        "Attempts a worker keeps in flight at once to the consumer while it is slow, at most the operator's HOOKLINE_SLOW_CONSUMER_CONCURRENCY (16 by default): a consumer may ask for fewer, never more; null for the operator's figure.",
    },
    ordering: { type: "string", enum: CONSUMER_ORDERINGS, description: "`fifo`, `fifo-by-company` or `unordered`. A change sends what waited in line again, held again behind its new line's head if the new ordering has lines." },
  },
});

export const customHeadersBody = closedObject({
  required: ["headers"],
  properties: {
    headers: {
      type: "object",
      additionalProperties: { type: "string" },
      description: `Header names (RFC 7230 tokens) and values (no CR, LF or other control characters), at most ${MAX_CUSTOM_HEADERS}. Reserved, refused: ${[...RESERVED_HEADER_NAMES].join(", ")}.`,
    },
  },
});

export const clientCertificateBody = closedObject({
  required: ["privateKey", "certificate"],
  properties: {
    privateKey: { type: "string", description: "PEM private key, unencrypted. Stored encrypted (AES-256-GCM) under the operator's encryption key; never returned." },
    certificate: { type: "string", description: "PEM X.509 certificate matching the key; intermediate certificates may follow it." },
  },
});

const maskedHeaders = ok("Header names with masked values (the last four characters of values of 12 or more)", {
  type: "object",
  properties: { headers: { type: "object", additionalProperties: { type: "string" } } },
  required: ["headers"],
});
const secretKey = ok("The signing secret", { type: "object", properties: { key: { type: "string", pattern: "^whsec_" } }, required: ["key"] });

/** Hookline's own webhook consumer endpoints. */
export const consumerPaths: Record<string, Record<string, JsonSchema>> = {
  "/webhooks/{webhookId}": {
    get: {
      operationId: "get-webhook-consumer",
      summary: "Get webhook consumer",
      description: "Hookline extension. Returns one webhook consumer, with its description, rate limit and whether it presents a client certificate.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      responses: { "200": consumerResponse, ...common },
    },
    patch: {
      operationId: "update-webhook-consumer",
      summary: "Update webhook consumer",
      description:
        "Hookline extension. Changes the fields given and leaves the others. Validated as on create. Enabling a consumer (`disabled: false`) starts its failure streak afresh; attempts that fell due while it was disabled were skipped, and the rest of each schedule goes on. A new `rateLimit` applies to the deliveries waiting for it too.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      requestBody: { required: true, content: json(consumerUpdateBody) },
      responses: { "200": consumerResponse, "400": errorResponse("Invalid field (unknown event types are listed with the valid ones)"), ...common },
    },
  },
  "/webhooks/{webhookId}/enable": {
    post: {
      operationId: "enable-webhook-consumer",
      summary: "Enable webhook consumer",
      description: "Hookline extension. The consumer gets the attempts that fall due from now on (those that fell due while it was disabled were skipped) and new events again.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      responses: { "200": consumerResponse, ...common },
    },
  },
  "/webhooks/{webhookId}/disable": {
    post: {
      operationId: "disable-webhook-consumer",
      summary: "Disable webhook consumer",
      description: "Hookline extension. The consumer gets no attempts and no new events until enabled; attempts that fall due meanwhile are skipped.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      responses: { "200": consumerResponse, ...common },
    },
  },
  "/webhooks/{webhookId}/secret": {
    get: {
      operationId: "get-webhook-consumer-secret",
      summary: "Get webhook consumer signing secret",
      description:
        "Hookline extension. Returns the consumer's Standard Webhooks signing secret (`whsec_` and base64). Verify deliveries with any Standard Webhooks or Svix library: the signature covers `webhook-id.webhook-timestamp.body`.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      responses: { "200": secretKey, ...common },
    },
  },
  "/webhooks/{webhookId}/secret/rotate": {
    post: {
      operationId: "rotate-webhook-consumer-secret",
      summary: "Rotate webhook consumer signing secret",
      description:
        "Hookline extension. Replaces the signing secret and returns the new one. For the operator's overlap (HOOKLINE_SECRET_ROTATION_OVERLAP, 24 hours by default) deliveries carry two `v1,` signatures in `webhook-signature`, under the new and the old secret, so a receiver verifies with either while it switches; then only the new one.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      responses: { "200": secretKey, ...common },
    },
  },
  "/webhooks/{webhookId}/headers": {
    get: {
      operationId: "list-webhook-consumer-headers",
      summary: "List webhook consumer custom headers",
      description: "Hookline extension. The names of the headers sent with every attempt, with masked values: values often hold credentials and are never returned in full.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      responses: { "200": maskedHeaders, ...common },
    },
    put: {
      operationId: "replace-webhook-consumer-headers",
      summary: "Replace webhook consumer custom headers",
      description: "Hookline extension. Makes `headers` the consumer's whole set of custom headers (`{}` removes them all). They are sent with every attempt and never replace the signature headers or the content type.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      requestBody: { required: true, content: json(customHeadersBody) },
      responses: { "200": maskedHeaders, "400": errorResponse(`Invalid or reserved header name, invalid value, or more than ${MAX_CUSTOM_HEADERS} headers`), ...common },
    },
    patch: {
      operationId: "update-webhook-consumer-headers",
      summary: "Set webhook consumer custom headers",
      description: "Hookline extension. Adds `headers` to the consumer's custom headers, replacing those of the same name (in any letter case).",
      tags: ["Webhooks"],
      parameters: [webhookId],
      requestBody: { required: true, content: json(customHeadersBody) },
      responses: { "200": maskedHeaders, "400": errorResponse(`Invalid or reserved header name, invalid value, or more than ${MAX_CUSTOM_HEADERS} headers`), ...common },
    },
  },
  "/webhooks/{webhookId}/headers/{headerName}": {
    delete: {
      operationId: "delete-webhook-consumer-header",
      summary: "Remove webhook consumer custom header",
      description: "Hookline extension. Stops sending one custom header (name in any letter case).",
      tags: ["Webhooks"],
      parameters: [webhookId, { name: "headerName", in: "path", required: true, schema: { type: "string" } }],
      responses: { "204": { description: "Removed" }, "401": errorResponse("Unauthorized"), "404": errorResponse("Webhook consumer or header not found") },
    },
  },
  "/webhooks/{webhookId}/mtls": {
    put: {
      operationId: "set-webhook-consumer-mtls",
      summary: "Set webhook consumer client certificate",
      description:
        "Hookline extension. Every delivery to the consumer presents this certificate (mTLS). The key and certificate must parse and match, and the certificate must not have expired. The key is stored encrypted under the operator's encryption key (HOOKLINE_ENCRYPTION_KEY, or on SQLite the key file made beside the database).",
      tags: ["Webhooks"],
      parameters: [webhookId],
      requestBody: { required: true, content: json(clientCertificateBody) },
      responses: { "200": consumerResponse, "400": errorResponse("Unparseable, mismatched or expired key and certificate, or no encryption key configured"), ...common },
    },
    delete: {
      operationId: "delete-webhook-consumer-mtls",
      summary: "Remove webhook consumer client certificate",
      description: "Hookline extension. Deliveries stop presenting a client certificate; the stored key is deleted.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      responses: { "204": { description: "Removed" }, ...common },
    },
  },
};
