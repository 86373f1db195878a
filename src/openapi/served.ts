import { codatDocument, type JsonSchema } from "./codat.ts";
import { hooklinePaths } from "./hookline/index.ts";
import { OPERATOR_SECURITY_SCHEME, operatorSecurityScheme } from "./hookline/operator.ts";
import { withAlertAuthHeader } from "./hookline/profile.ts";

/** The Codat operations Hookline implements; the served document keeps exactly these. */
const CODAT_OPERATIONS = new Set([
  "list-companies", "create-company", "get-company", "replace-company", "update-company", "delete-company",
  "list-connections", "create-connection", "get-connection", "delete-connection", "unlink-connection", "update-connection-authorization",
  "list-integrations", "get-integration", "get-integrations-branding", "get-profile", "update-profile",
  "list-webhook-consumers", "create-webhook-consumer", "delete-webhook-consumer",
  "list-api-keys", "create-api-key", "delete-api-key",
]);

/**
 * The OpenAPI document this server serves: Codat's shared operations,
 * Hookline's additions, and the event catalog: Codat's webhooks and
 * `ownWebhooks`, Hookline's own event types (which the event catalog defines).
 */
export function servedDocument(publicUrl: string, ownWebhooks: Record<string, unknown>): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, operations] of Object.entries(codatDocument.paths)) {
    const kept = Object.fromEntries(
      Object.entries(operations).filter(([, operation]) => CODAT_OPERATIONS.has((operation as { operationId?: string }).operationId ?? "")),
    );
    // The path item's own parameters (a path's `{webhookId}`) belong to the operations kept.
    const { parameters } = operations as { parameters?: unknown };
    if (Object.keys(kept).length > 0) paths[path] = parameters === undefined ? kept : { parameters, ...kept };
  }
  for (const area of hooklinePaths) {
    for (const [path, operations] of Object.entries(area)) paths[path] = { ...paths[path], ...operations };
  }
  return inlineDanglingRefs({
    ...codatDocument,
    info: {
      title: "Hookline API",
      version: "0.1.0",
      description: "Hookline's API: the Codat Platform API operations it shares (companies, connections, integrations, webhook consumers, API keys) and Hookline's own extensions. Webhook events are listed under `webhooks` and signed with Standard Webhooks.",
    },
    servers: [{ url: publicUrl, description: "This Hookline server" }],
    tags: [...codatDocument.tags, { name: "Operator", description: "Hookline extension. For the operator's data engine, with an operator token (`hookline operator-tokens create`)." }],
    paths,
    components: servedComponents(),
    webhooks: { ...codatDocument.webhooks, ...ownWebhooks },
  });
}

/** Codat's components with Hookline's additions: the profile's alertAuthHeader, and the operator API's token. */
function servedComponents(): JsonSchema {
  const components = codatDocument.components as { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
  return {
    ...components,
    schemas: { ...components.schemas, Profile: withAlertAuthHeader(components.schemas.Profile!) },
    securitySchemes: { ...components.securitySchemes, [OPERATOR_SECURITY_SCHEME]: operatorSecurityScheme },
  };
}

/**
 * The Codat document points some schemas into operations Hookline leaves out
 * (the companyId parameter's schema lives under syncSettings); those targets
 * are copied in place of their references, so every `$ref` served resolves.
 */
function inlineDanglingRefs(document: JsonSchema): JsonSchema {
  const inline = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(inline);
    if (node === null || typeof node !== "object") return node;
    const { $ref } = node as { $ref?: unknown };
    if (typeof $ref === "string" && pointerTarget(document, $ref) === undefined) {
      const target = pointerTarget(codatDocument, $ref);
      if (target !== undefined) return inline(structuredClone(target));
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, inline(value)]));
  };
  return inline(document) as JsonSchema;
}

/** What a local `#/...` JSON pointer names in `document`, or undefined. */
function pointerTarget(document: unknown, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  let node = document;
  for (const token of ref.slice(2).split("/")) {
    const key = decodeURIComponent(token).replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
