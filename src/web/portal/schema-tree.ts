import type { TreeNode } from "./pages.ts";

type Schema = Record<string, unknown>;

/** How deep the tree goes: events nest a company and a connection, a few levels at most; deeper is a recursive schema. */
const MAX_DEPTH = 6;

/** A description's first sentence, without the markup some of Codat's carry, for one line of the tree. */
export function shortDescription(text: unknown): string | null {
  if (typeof text !== "string") return null;
  const plain = text
    .replace(/<[^>]*>/g, "")
    .replace(/&#?\w+;/g, "")
    .replace(/\s+/g, " ")
    .trim();
  const sentence = /^(.{1,160}?[.!?])(\s|$)/.exec(plain)?.[1] ?? plain.slice(0, 160);
  return sentence === "" ? null : sentence;
}

/**
 * A JSON Schema as a tree of its properties, for the catalog page: each
 * property's name, type, whether it is required and what it means, local
 * references ($ref into $defs) followed and allOf merged.
 */
export function schemaTree(root: Schema): TreeNode[] {
  const resolve = (schema: Schema, seen: readonly string[] = []): Schema => {
    const ref = schema.$ref;
    if (typeof ref !== "string" || !ref.startsWith("#/$defs/") || seen.includes(ref)) return schema;
    const target = ((root.$defs ?? {}) as Record<string, Schema>)[ref.slice("#/$defs/".length)] ?? {};
    const siblings = { ...schema };
    delete siblings.$ref;
    return { ...resolve(target, [...seen, ref]), ...siblings };
  };
  const merged = (schema: Schema): Schema => {
    const resolved = resolve(schema);
    const parts = Array.isArray(resolved.allOf) ? (resolved.allOf as Schema[]).map(merged) : [];
    return parts.reduce<Schema>(
      (all, part) => ({
        ...part,
        ...all,
        properties: { ...((part.properties ?? {}) as Schema), ...((all.properties ?? {}) as Schema) },
        required: [...((part.required ?? []) as string[]), ...((all.required ?? []) as string[])],
      }),
      resolved,
    );
  };
  const typeOf = (schema: Schema): string => {
    if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((value) => JSON.stringify(value)).join(", ")}`;
    const types = ([] as unknown[]).concat(schema.type ?? (schema.properties ? "object" : "any")).map(String);
    const items = schema.items ? merged(schema.items as Schema) : undefined;
    const named = types.map((type) => (type === "array" && items ? `array of ${typeOf(items)}` : type)).join(" or ");
    return typeof schema.format === "string" ? `${named} (${schema.format})` : named;
  };
  const nodes = (schema: Schema, depth: number): TreeNode[] => {
    if (depth > MAX_DEPTH) return [];
    const required = new Set((schema.required ?? []) as string[]);
    return Object.entries((schema.properties ?? {}) as Record<string, Schema>).map(([name, property]) => {
      const resolved = merged(property);
      const items = resolved.items ? merged(resolved.items as Schema) : undefined;
      return {
        name,
        type: typeOf(resolved),
        required: required.has(name),
        description: shortDescription(resolved.description),
        children: nodes(items ?? resolved, depth + 1),
      };
    });
  };
  return nodes(merged(root), 0);
}
