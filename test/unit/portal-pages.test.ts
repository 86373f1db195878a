import assert from "node:assert/strict";
import { test } from "node:test";
import { companySearchQuery } from "../../src/web/routes/portal-pages.ts";
import { schemaTree, shortDescription } from "../../src/web/portal/schema-tree.ts";

test("the companies search box becomes the API's query: a name contains the words, key=value is a tag", () => {
  assert.equal(companySearchQuery("  "), undefined);
  assert.equal(companySearchQuery("Toft"), "name ~ Toft");
  assert.equal(companySearchQuery("Toft stores"), 'name ~ "Toft stores"');
  assert.equal(companySearchQuery("region=uk"), "region = uk");
  assert.equal(companySearchQuery("owningTeam = invoice finance"), 'owningTeam = "invoice finance"');
});

test("a catalog description is cut to its first sentence, without markup", () => {
  assert.equal(shortDescription("Called when a company is created. More text | a | table"), "Called when a company is created.");
  assert.equal(shortDescription('See <a href="x">the docs</a> &#9989; now.'), "See the docs now.");
  assert.equal(shortDescription(undefined), null);
});

test("a schema becomes a tree of its properties, references followed and allOf merged, required marked", () => {
  const tree = schemaTree({
    type: "object",
    required: ["id"],
    properties: {
      id: { type: "string", format: "uuid", description: "The id." },
      company: { $ref: "#/$defs/Company" },
      tags: { type: "array", items: { allOf: [{ $ref: "#/$defs/Tag" }, { properties: { extra: { type: "boolean" } } }] } },
      kind: { enum: ["a", "b"] },
    },
    $defs: {
      Company: { type: "object", required: ["name"], properties: { name: { type: ["string", "null"] }, parent: { $ref: "#/$defs/Company" } } },
      Tag: { type: "object", properties: { key: { type: "string" } } },
    },
  });
  assert.deepEqual(
    tree.map((node) => [node.name, node.type, node.required]),
    [
      ["id", "string (uuid)", true],
      ["company", "object", false],
      ["tags", "array of object", false],
      ["kind", 'one of "a", "b"', false],
    ],
  );
  assert.equal(tree[0]!.description, "The id.");
  assert.deepEqual(
    tree[1]!.children.map((node) => [node.name, node.type, node.required]),
    [
      ["name", "string or null", true],
      ["parent", "object", false],
    ],
  );
  assert.deepEqual(tree[2]!.children.map((node) => node.name).sort(), ["extra", "key"]);
});
