import { Ajv, type Options } from "ajv";
import addFormats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";
import { HooklineError, type ValidationItem } from "../errors.ts";
import { validatorDocument, type JsonSchema } from "../openapi/codat.ts";

/**
 * Request validation against the Codat document's own schemas. Query strings,
 * path parameters and headers arrive as text, so they are coerced to the types
 * their schemas name; JSON bodies are not: `{"name": 5}` is a 400, as is a
 * property a schema forbids (Fastify's default would coerce the one and
 * silently drop the other).
 */
const ajvFor = (options: Options) => {
  const ajv = new Ajv({ strict: false, allErrors: true, ...options });
  addFormats.default(ajv);
  ajv.addSchema(validatorDocument());
  return ajv;
};
const jsonOptions: Options = { coerceTypes: false, useDefaults: true, removeAdditional: false };

export function requestValidator(): FastifySchemaCompiler<unknown> {
  const textual = ajvFor({ coerceTypes: "array", useDefaults: true });
  const json = ajvFor(jsonOptions);
  // Ajv keeps what it compiled by schema, so routes sharing a schema share its validator.
  return ({ schema, httpPart }) => (httpPart === "body" ? json : textual).compile(schema as object);
}

let bodies: Ajv | undefined;

/**
 * Checks a body made outside a request (by the CLI, which works on the
 * database) against the schema its API route validates it with, and refuses
 * it as the API would: a 400 naming each problem.
 */
export function assertValidBody(schema: JsonSchema, body: unknown, where = "body"): void {
  bodies ??= ajvFor(jsonOptions);
  const validate = bodies.compile(schema as object);
  if (validate(body)) return;
  const items: ValidationItem[] = (validate.errors ?? []).map((issue) => ({
    itemId: `${where}${issue.instancePath}`,
    message: issue.message ?? "is invalid",
    validatorName: issue.keyword,
  }));
  throw new HooklineError(400, `Invalid request: ${items.map((item) => `${item.itemId} ${item.message}`).join("; ")}`, items);
}
