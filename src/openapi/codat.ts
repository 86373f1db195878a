import { readFileSync } from "node:fs";

/**
 * The Codat Platform OpenAPI document Hookline is compatible with, shipped in
 * the repository and read once. Schemas, the event catalog and the served API
 * document all come from it, so nothing of the contract is typed twice.
 */
export type JsonSchema = Record<string, unknown>;

interface OpenApiDocument {
  paths: Record<string, Record<string, JsonSchema>>;
  webhooks: Record<string, { post: { description?: string; requestBody: { content: { "application/json": { schema: { $ref: string }; examples?: Record<string, { value: unknown }> } } } } }>;
  components: { schemas: Record<string, JsonSchema> } & Record<string, unknown>;
  tags: Array<{ name: string; description?: string }>;
  [key: string]: unknown;
}

export const codatDocument: OpenApiDocument = JSON.parse(
  readFileSync(new URL("../../openapi/codat-platform-openapi.json", import.meta.url), "utf8"),
);

/** The id under which the normalized document is registered with JSON Schema validators. */
export const CODAT_SCHEMA_ID = "codat";

/** A `$ref` into the document that a validator holding `validatorDocument()` resolves. */
export const codatRef = (pointer: string): JsonSchema => ({ $ref: `${CODAT_SCHEMA_ID}#${pointer}` });

/** The schema of one of the document's parameters. */
export const codatParameter = (name: string) => codatRef(`/components/parameters/${name}/schema`);

/** A route's path parameters, each validated as the document's parameter of that name. */
export const pathParams = (...names: Array<"companyId" | "connectionId" | "webhookId" | "platformKey">): JsonSchema => ({
  type: "object",
  properties: Object.fromEntries(names.map((name) => [name, codatParameter(name)])),
  required: names,
});

/**
 * The document rewritten for a JSON Schema validator: OpenAPI 3.0's
 * `nullable: true` (which this document still uses) becomes an explicit null
 * type, and the id is set so `codat#/components/...` references resolve.
 */
export function validatorDocument(): JsonSchema {
  return { ...(normalizeNullable(structuredClone(codatDocument)) as JsonSchema), $id: CODAT_SCHEMA_ID };
}

function normalizeNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalizeNullable);
  if (node === null || typeof node !== "object") return node;
  const schema: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) schema[key] = normalizeNullable(value);
  if (schema.nullable !== true) {
    delete schema.nullable;
    return schema;
  }
  delete schema.nullable;
  if (typeof schema.type === "string") {
    schema.type = [schema.type, "null"];
    if (Array.isArray(schema.enum)) schema.enum = [...schema.enum, null];
    return schema;
  }
  return { anyOf: [schema, { type: "null" }] };
}
