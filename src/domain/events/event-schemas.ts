import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { ValidationItem } from "../../errors.ts";
import { CODAT_SCHEMA_ID, validatorDocument, type JsonSchema } from "../../openapi/codat.ts";
import type { EventTypeDefinition } from "./event-type.ts";

/**
 * Event schemas as clients and the publish endpoint use them: the catalog's
 * schema (a reference into the Codat document) turned into one JSON Schema
 * 2020-12 document that stands on its own, every component it refers to
 * copied under `$defs` (OpenAPI's `nullable` already made explicit).
 */
const codat = validatorDocument();
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);

const standalone = new Map<EventTypeDefinition, JsonSchema>();
const validators = new Map<EventTypeDefinition, ValidateFunction>();

/** The JSON pointer a `$ref` into the Codat document names (`codat#/...` from the catalog, `#/...` inside the document). */
function codatPointer(ref: string): string | undefined {
  if (ref.startsWith(`${CODAT_SCHEMA_ID}#/`)) return ref.slice(CODAT_SCHEMA_ID.length + 1);
  return ref.startsWith("#/") ? ref.slice(1) : undefined;
}

/** One segment of a JSON pointer taken from a URI fragment: percent-decoded, then `~1` and `~0` unescaped. */
const decodeSegment = (segment: string) => decodeURIComponent(segment).replace(/~1/g, "/").replace(/~0/g, "~");
const encodeSegment = (segment: string) => segment.replace(/~/g, "~0").replace(/\//g, "~1");

function resolvePointer(pointer: string): unknown {
  let node: unknown = codat;
  for (const segment of pointer.split("/").slice(1).map(decodeSegment)) {
    node = (node as Record<string, unknown> | undefined)?.[segment];
  }
  if (node === undefined) throw new Error(`Dangling reference ${pointer} in the Codat document`);
  return node;
}

/** `/components/schemas/Company/definitions/companyReference` -> `Company.definitions.companyReference`. */
function defName(pointer: string): string {
  const segments = pointer.split("/").slice(1).map(decodeSegment);
  if (segments[0] === "components") segments.shift();
  if (segments[0] === "schemas") segments.shift();
  return segments.join(".");
}

function bundle(schema: JsonSchema): JsonSchema {
  const defs: Record<string, unknown> = {};
  const pending: string[] = [];
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== "object") return node;
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) copy[key] = rewrite(value);
    const pointer = typeof copy.$ref === "string" ? codatPointer(copy.$ref) : undefined;
    if (pointer !== undefined) {
      const name = defName(pointer);
      if (!(name in defs)) {
        defs[name] = true;
        pending.push(pointer);
      }
      copy.$ref = `#/$defs/${encodeURIComponent(encodeSegment(name))}`;
    }
    return copy;
  };
  // A catalog schema that is a bare reference becomes the referenced schema itself.
  const rootPointer = Object.keys(schema).length === 1 && typeof schema.$ref === "string" ? codatPointer(schema.$ref) : undefined;
  const root = rewrite(rootPointer === undefined ? schema : withoutDefinitions(resolvePointer(rootPointer))) as JsonSchema;
  for (let pointer = pending.pop(); pointer !== undefined; pointer = pending.pop()) {
    defs[defName(pointer)] = rewrite(withoutDefinitions(resolvePointer(pointer)));
  }
  return { $schema: "https://json-schema.org/draft/2020-12/schema", ...root, ...(Object.keys(defs).length > 0 ? { $defs: defs } : {}) };
}

/** Drops a component's `definitions`: every reference into them now points at a `$defs` entry of its own. */
function withoutDefinitions(node: unknown): unknown {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return node;
  const rest: Record<string, unknown> = { ...node };
  delete rest.definitions;
  return rest;
}

/** The event type's schema as a standalone JSON Schema document. */
export function standaloneSchema(definition: EventTypeDefinition): JsonSchema {
  let schema = standalone.get(definition);
  if (!schema) {
    schema = bundle(definition.schema);
    standalone.set(definition, schema);
  }
  return schema;
}

/** Whether events of this type carry `payload.referenceCompany` (connection, read and write events do). */
export function hasCompanyReference(definition: EventTypeDefinition): boolean {
  const schema = standaloneSchema(definition) as { properties?: { payload?: { $ref?: string } }; $defs?: Record<string, { properties?: object }> };
  const payloadRef = schema.properties?.payload?.$ref;
  const payload = payloadRef === undefined ? schema.properties?.payload : schema.$defs?.[decodeSegment(payloadRef.slice("#/$defs/".length))];
  return payload !== undefined && "properties" in payload && Object.hasOwn(payload.properties ?? {}, "referenceCompany");
}

/** Schema violations of a whole event body, each named by its path under `itemPrefix` (e.g. `body/payload/dataTypes/0`). */
export function eventSchemaViolations(definition: EventTypeDefinition, event: unknown, itemPrefix: string): ValidationItem[] {
  let validate = validators.get(definition);
  if (!validate) {
    validate = ajv.compile(standaloneSchema(definition));
    validators.set(definition, validate);
  }
  if (validate(event)) return [];
  return (validate.errors ?? []).map((error) => ({
    itemId: `${itemPrefix}${error.instancePath}`,
    message: error.message ?? "is invalid",
    validatorName: error.keyword,
  }));
}
