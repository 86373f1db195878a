import { Ajv, type Options } from "ajv";
import addFormats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";
import { validatorDocument } from "../openapi/codat.ts";

/**
 * Request validation against the Codat document's own schemas. Query strings,
 * path parameters and headers arrive as text, so they are coerced to the types
 * their schemas name; JSON bodies are not: `{"name": 5}` is a 400, as is a
 * property a schema forbids (Fastify's default would coerce the one and
 * silently drop the other).
 */
export function requestValidator(): FastifySchemaCompiler<unknown> {
  const ajvFor = (options: Options) => {
    const ajv = new Ajv({ strict: false, allErrors: true, ...options });
    addFormats.default(ajv);
    ajv.addSchema(validatorDocument());
    return ajv;
  };
  const textual = ajvFor({ coerceTypes: "array", useDefaults: true });
  const json = ajvFor({ coerceTypes: false, useDefaults: true, removeAdditional: false });
  // Ajv keeps what it compiled by schema, so routes sharing a schema share its validator.
  return ({ schema, httpPart }) => (httpPart === "body" ? json : textual).compile(schema as object);
}
