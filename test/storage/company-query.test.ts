/**
 * Company lists filtered by Codat's query language (company-query.ts over
 * query-filter.ts): keys `id` and `name` address the company, any other key a tag.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import type { ClientId } from "../../src/ids.ts";
import { listCompanies, type CompanyOrderColumn, type CompanySnapshot } from "../../src/storage/companies.ts";
import type { Store } from "../../src/storage/database.ts";
import type { Filter, ListOrder, Operator } from "../../src/storage/query-filter.ts";
import { openTestStore, seedClient, seedCompany, testDialect } from "../support/storage.ts";

const byName: ListOrder<CompanyOrderColumn> = { column: "name", direction: "asc" };

/** One condition as a whole filter. */
const where = (key: string, operator: Operator, value: string): Filter => [[{ key, operator, value }]];

/**
 * Client A's companies, chosen so each operator has something to match and
 * something to pass over, and client B's company, which matches every filter
 * below and must never appear in A's lists.
 */
async function seedCompanies(t: TestContext) {
  const { store } = await openTestStore(t);
  const clientA = await seedClient(store, "A");
  const clientB = await seedClient(store, "B");
  const alpha = await seedCompany(store, clientA, { name: "Alpha Ltd", tags: { region: "uk", tier: "gold", size: "20" } });
  const beta = await seedCompany(store, clientA, { name: "beta 100% Ltd", tags: { region: "us", size: "10" } });
  const gamma = await seedCompany(store, clientA, { name: "Gamma_Co" });
  const delta = await seedCompany(store, clientA, { name: "delta", tags: { region: "UK" } });
  await seedCompany(store, clientB, { name: "Alpha Ltd of B", tags: { region: "uk", tier: "gold", size: "20" } });
  return { store, clientA, alpha, beta, gamma, delta };
}

async function names(store: Store, clientId: ClientId, filter: Filter, order = byName): Promise<string[]> {
  const { rows, total } = await listCompanies(store.db, clientId, { filter, order, slice: { page: 1, pageSize: 100 } });
  assert.equal(total, rows.length, "the total counts the rows that pass the filter");
  return rows.map((row) => row.name);
}

test("without a filter a client lists all its companies and no other client's", async (t) => {
  const { store, clientA } = await seedCompanies(t);
  assert.deepEqual(await names(store, clientA, []), ["Alpha Ltd", "Gamma_Co", "beta 100% Ltd", "delta"]);
});

test("= on a tag matches companies with exactly that value", async (t) => {
  const { store, clientA } = await seedCompanies(t);
  assert.deepEqual(await names(store, clientA, where("region", "=", "uk")), ["Alpha Ltd"]);
  assert.deepEqual(await names(store, clientA, where("tier", "=", "gold")), ["Alpha Ltd"]);
  assert.deepEqual(await names(store, clientA, where("unknown", "=", "uk")), []);
});

test("!= on a tag matches every company without that value, untagged ones included", async (t) => {
  const { store, clientA } = await seedCompanies(t);
  assert.deepEqual(await names(store, clientA, where("region", "!=", "uk")), ["Gamma_Co", "beta 100% Ltd", "delta"]);
  assert.deepEqual(await names(store, clientA, where("tier", "!=", "gold")), ["Gamma_Co", "beta 100% Ltd", "delta"]);
  assert.deepEqual(await names(store, clientA, where("unknown", "!=", "x")), ["Alpha Ltd", "Gamma_Co", "beta 100% Ltd", "delta"]);
});

test("= and != on the company's own id and name", async (t) => {
  const { store, clientA, gamma } = await seedCompanies(t);
  assert.deepEqual(await names(store, clientA, where("id", "=", gamma.id)), ["Gamma_Co"]);
  assert.deepEqual(await names(store, clientA, where("name", "=", "delta")), ["delta"]);
  assert.deepEqual(await names(store, clientA, where("name", "=", "Delta")), [], "= compares case and all");
  assert.deepEqual(await names(store, clientA, where("name", "!=", "delta")), ["Alpha Ltd", "Gamma_Co", "beta 100% Ltd"]);
  assert.deepEqual(await names(store, clientA, where("name", "=", "Alpha Ltd of B")), [], "another client's company is never matched");
});

test("~ matches a part of the value, ignoring case", async (t) => {
  const { store, clientA } = await seedCompanies(t);
  assert.deepEqual(await names(store, clientA, where("name", "~", "LTD")), ["Alpha Ltd", "beta 100% Ltd"]);
  assert.deepEqual(await names(store, clientA, where("name", "~", "alpha")), ["Alpha Ltd"]);
  assert.deepEqual(await names(store, clientA, where("region", "~", "u")), ["Alpha Ltd", "beta 100% Ltd", "delta"]);
  assert.deepEqual(await names(store, clientA, where("region", "~", "Uk")), ["Alpha Ltd", "delta"]);
});

test("~ takes %, _ and \\ literally", async (t) => {
  const { store, clientA } = await seedCompanies(t);
  assert.deepEqual(await names(store, clientA, where("name", "~", "%")), ["beta 100% Ltd"]);
  assert.deepEqual(await names(store, clientA, where("name", "~", "_")), ["Gamma_Co"]);
  assert.deepEqual(await names(store, clientA, where("name", "~", "a_c")), ["Gamma_Co"]);
  assert.deepEqual(await names(store, clientA, where("name", "~", "\\")), []);
});

test(
  "~ ignores the case of letters beyond ASCII as well",
  { todo: testDialect === "sqlite" && "SQLite's lower() folds ASCII letters only, PostgreSQL's every letter: the dialects disagree" },
  async (t) => {
    const { store } = await openTestStore(t);
    const clientId = await seedClient(store);
    await seedCompany(store, clientId, { name: "Ärztekammer Größe" });
    assert.deepEqual(await names(store, clientId, where("name", "~", "ärzte")), ["Ärztekammer Größe"]);
    assert.deepEqual(await names(store, clientId, where("name", "~", "GRÖSSE")), [], "case folding, not transliteration");
  },
);

test("> and < compare tag values as text", async (t) => {
  const { store, clientA } = await seedCompanies(t);
  assert.deepEqual(await names(store, clientA, where("size", ">", "15")), ["Alpha Ltd"]);
  assert.deepEqual(await names(store, clientA, where("size", "<=", "20")), ["Alpha Ltd", "beta 100% Ltd"]);
});

test("conditions joined by && must all hold; alternatives joined by || need one", async (t) => {
  const { store, clientA } = await seedCompanies(t);
  const either: Filter = [[{ key: "region", operator: "=", value: "uk" }], [{ key: "region", operator: "=", value: "us" }]];
  assert.deepEqual(await names(store, clientA, either), ["Alpha Ltd", "beta 100% Ltd"]);
  const both: Filter = [
    [
      { key: "region", operator: "~", value: "u" },
      { key: "tier", operator: "!=", value: "gold" },
    ],
  ];
  assert.deepEqual(await names(store, clientA, both), ["beta 100% Ltd", "delta"]);
  const mixed: Filter = [
    [
      { key: "region", operator: "=", value: "uk" },
      { key: "name", operator: "~", value: "beta" },
    ],
    [{ key: "name", operator: "=", value: "Gamma_Co" }],
  ];
  assert.deepEqual(await names(store, clientA, mixed), ["Gamma_Co"]);
});

test("lists are ordered by the column asked for, in either direction", async (t) => {
  const { store, clientA } = await seedCompanies(t);
  // Code point order, as SQLite compares text: upper case before lower case.
  assert.deepEqual(await names(store, clientA, [], { column: "name", direction: "asc" }), ["Alpha Ltd", "Gamma_Co", "beta 100% Ltd", "delta"]);
  assert.deepEqual(await names(store, clientA, [], { column: "name", direction: "desc" }), ["delta", "beta 100% Ltd", "Gamma_Co", "Alpha Ltd"]);
  assert.deepEqual(await names(store, clientA, [], { column: "created_at", direction: "asc" }), ["Alpha Ltd", "beta 100% Ltd", "Gamma_Co", "delta"]);
  assert.deepEqual(await names(store, clientA, [], { column: "created_at", direction: "desc" }), ["delta", "Gamma_Co", "beta 100% Ltd", "Alpha Ltd"]);
});

test("rows that tie on the ordering column come in id order", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const twins: CompanySnapshot[] = [];
  for (let i = 0; i < 5; i++) twins.push(await seedCompany(store, clientId, { name: "Same name", created_at: 1_000 }));
  const ids = twins.map((company) => company.id).sort();
  for (const order of [
    { column: "name", direction: "asc" },
    { column: "name", direction: "desc" },
    { column: "created_at", direction: "desc" },
  ] as const) {
    const { rows } = await listCompanies(store.db, clientId, { filter: [], order, slice: { page: 1, pageSize: 10 } });
    assert.deepEqual(
      rows.map((row) => row.id),
      ids,
      `${order.column} ${order.direction}`,
    );
  }
});
