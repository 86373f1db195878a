import fc from "fast-check";

/**
 * fast-check arbitraries derived from JSON Schemas (OpenAPI 3.1 documents and
 * the event catalog's standalone schemas): values a schema accepts, give or
 * take what a pattern or a cross-field rule adds, and hostile values made to
 * break whatever reads them.
 */
export type Schema = Record<string, any>;

/** What a local `#/...` JSON pointer names in `document`, or undefined. */
export function resolvePointer(document: unknown, ref: string): unknown {
  if (!ref.startsWith("#")) return undefined;
  let node = document;
  for (const token of ref.slice(1).split("/").slice(1)) {
    const key = decodeURIComponent(token).replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** `schema` with its `$ref` chain followed; siblings of a `$ref` (as OpenAPI 3.1 allows) win over the target's. */
export function dereference(document: unknown, schema: Schema): Schema {
  let current = schema;
  for (let hops = 0; typeof current.$ref === "string"; hops++) {
    const target = resolvePointer(document, current.$ref);
    if (target === undefined || hops > 32) throw new Error(`unresolvable $ref ${current.$ref}`);
    const siblings = { ...current };
    delete siblings.$ref;
    current = { ...(target as Schema), ...siblings };
  }
  return current;
}

export interface SchemaArbitraryOptions {
  /** The document `$ref`s resolve in. */
  document: unknown;
  /**
   * An arbitrary to use instead of the schema's for a property or parameter
   * name (ids of real resources, URLs of the test's own receivers), or
   * undefined to derive one from the schema.
   */
  override?: (name: string | undefined, schema: Schema) => fc.Arbitrary<unknown> | undefined;
}

const MAX_DEPTH = 6;

/** Values of `schema`: the shape, types, bounds, enums and formats it names, with its examples mixed in. */
export function schemaArbitrary(schema: Schema, options: SchemaArbitraryOptions, name?: string, depth = 0): fc.Arbitrary<unknown> {
  const resolved = dereference(options.document, schema);
  const overridden = options.override?.(name, resolved);
  if (overridden) return overridden;
  if (depth > MAX_DEPTH) return fc.constant(null);
  const derived = derive(resolved, options, name, depth);
  const examples = [...(resolved.example === undefined ? [] : [resolved.example]), ...(Array.isArray(resolved.examples) ? resolved.examples : [])];
  const withExamples = examples.length > 0 ? fc.oneof({ arbitrary: derived, weight: 4 }, { arbitrary: fc.constantFrom(...examples), weight: 1 }) : derived;
  return resolved.nullable === true ? fc.option(withExamples, { nil: null, freq: 8 }) : withExamples;
}

function derive(schema: Schema, options: SchemaArbitraryOptions, name: string | undefined, depth: number): fc.Arbitrary<unknown> {
  if ("const" in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if (Array.isArray(schema.allOf)) return derive(mergeAll(schema, options.document), options, name, depth);
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (Array.isArray(alternatives)) return fc.oneof(...alternatives.map((alternative: Schema) => schemaArbitrary(alternative, options, name, depth + 1)));
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type: string) => derive({ ...schema, type }, options, name, depth)));
  switch (schema.type ?? (schema.properties ? "object" : undefined)) {
    case "string":
      return stringOf(schema);
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case "number":
      return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true, noDefaultInfinity: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(schema.items ? schemaArbitrary(schema.items, options, name, depth + 1) : fc.jsonValue({ maxDepth: 1 }), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 4, Math.max(schema.minItems ?? 0, 4)),
      });
    case "object":
      return objectOf(schema, options, depth);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** allOf's parts as one schema: their properties and requirements together (enough for the documents at hand). */
function mergeAll(schema: Schema, document: unknown): Schema {
  const { allOf, ...rest } = schema;
  return (allOf as Schema[])
    .map((part) => dereference(document, part))
    .reduce<Schema>(
      (merged, part) => {
        const flat = Array.isArray(part.allOf) ? mergeAll(part, document) : part;
        return {
          ...merged,
          ...flat,
          properties: { ...merged.properties, ...flat.properties },
          required: [...(merged.required ?? []), ...(flat.required ?? [])],
        };
      },
      { ...rest, properties: { ...rest.properties }, required: [...(rest.required ?? [])] },
    );
}

function objectOf(schema: Schema, options: SchemaArbitraryOptions, depth: number): fc.Arbitrary<unknown> {
  const properties = Object.entries((schema.properties ?? {}) as Record<string, Schema>);
  const required = new Set<string>(schema.required ?? []);
  const known = fc.record(Object.fromEntries(properties.map(([key, property]) => [key, schemaArbitrary(property, options, key, depth + 1)])), {
    requiredKeys: properties.map(([key]) => key).filter((key) => required.has(key)),
  });
  const extra = schema.additionalProperties;
  if (extra === undefined || extra === false || properties.length > 0) {
    // At least minProperties: a schema asking for one more than it got is fed again.
    return (schema.minProperties ?? 0) > 0 ? known.filter((value) => Object.keys(value).length >= schema.minProperties) : known;
  }
  const values = extra === true ? fc.jsonValue({ maxDepth: 1 }) : schemaArbitrary(extra as Schema, options, undefined, depth + 1);
  return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), values, { maxKeys: 4, minKeys: schema.minProperties ?? 0 });
}

function stringOf(schema: Schema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? 40, 80));
  switch (schema.format) {
    case "uuid":
      return fc.uuid();
    case "date-time":
      return fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true }).map((date) => date.toISOString());
    case "date":
      return fc
        .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
        .map((date) => date.toISOString().slice(0, 10));
    case "email":
      return fc.emailAddress();
  }
  if (typeof schema.pattern === "string") {
    const pattern = new RegExp(schema.pattern, "u");
    return fc.stringMatching(pattern).filter((value) => value.length >= minLength && value.length <= (schema.maxLength ?? Infinity));
  }
  return fc.string({ minLength, maxLength, unit: "grapheme" });
}

/** Text made to hurt: control characters, lone surrogates, right-to-left marks, NULs, SQL and template syntax, prototype names, very long. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "\udfff",
    "\u202e",
    "\ufeff",
    "🎉",
    "中文",
    "é",
    "\u0100".repeat(64),
    "'; DROP TABLE companies; --",
    '" OR 1=1 --',
    "${7*7}",
    "{{7*7}}",
    "%s%n",
    "__proto__",
    "constructor",
    "prototype",
    "../../etc/passwd",
    "..\\..\\",
    "%00",
    "%2e%2e%2f",
    "\r\nX-Injected: 1",
    "null",
    "undefined",
    "NaN",
    "-0",
    "1e400",
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.integer({ min: 256, max: 70_000 }).chain((length) => fc.constantFrom("a", "é", "\u0100", "🎉", " ", "%").map((unit) => unit.repeat(length))),
);

/** Nesting deep enough to find a recursive reader: arrays or objects up to a thousand levels down (deeper still goes as raw text). */
export const deeplyNested: fc.Arbitrary<unknown> = fc.tuple(fc.integer({ min: 60, max: 1_000 }), fc.boolean()).map(([depth, arrays]) => {
  let value: unknown = "bottom";
  for (let level = 0; level < depth; level++) value = arrays ? [value] : { a: value };
  return value;
});

/** A value of any JSON type, and then some: what a field of another type receives. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, [], {}, [null], { "": "" }), weight: 3 },
  { arbitrary: hostileString, weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
  {
    arbitrary: fc.dictionary(fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty"), fc.jsonValue({ maxDepth: 1 })),
    weight: 1,
  },
  { arbitrary: deeplyNested, weight: 1 },
);
