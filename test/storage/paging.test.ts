/** Pages of a list (paging.ts), read through the lists that use it. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ClientId } from "../../src/ids.ts";
import { listCompanies, type CompanyOrderColumn } from "../../src/storage/companies.ts";
import { listConnections } from "../../src/storage/connections.ts";
import type { Store } from "../../src/storage/database.ts";
import type { Filter, ListOrder } from "../../src/storage/query-filter.ts";
import { openTestStore, seedClient, seedCompany, seedConnection } from "../support/storage.ts";

const byName: ListOrder<CompanyOrderColumn> = { column: "name", direction: "asc" };

async function pageOfCompanies(store: Store, clientId: ClientId, page: number, pageSize: number, order = byName, filter: Filter = []) {
  const { rows, total } = await listCompanies(store.db, clientId, { filter, order, slice: { page, pageSize } });
  return { names: rows.map((row) => row.name), ids: rows.map((row) => row.id), total };
}

test("pages split the list in order, each saying how many rows the whole list has", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const other = await seedClient(store);
  for (const name of ["g", "c", "a", "f", "b", "e", "d"]) await seedCompany(store, clientId, { name });
  await seedCompany(store, other, { name: "another client's" });

  assert.deepEqual(await pageOfCompanies(store, clientId, 1, 3).then((page) => [page.names, page.total]), [["a", "b", "c"], 7]);
  assert.deepEqual(await pageOfCompanies(store, clientId, 2, 3).then((page) => [page.names, page.total]), [["d", "e", "f"], 7]);
  assert.deepEqual(await pageOfCompanies(store, clientId, 3, 3).then((page) => [page.names, page.total]), [["g"], 7]);
  assert.deepEqual(await pageOfCompanies(store, clientId, 4, 3).then((page) => [page.names, page.total]), [[], 7], "past the end: no rows, same total");
  assert.deepEqual(await pageOfCompanies(store, clientId, 1, 100).then((page) => page.names), ["a", "b", "c", "d", "e", "f", "g"]);
});

test("the total counts the rows that pass the filter, not the page", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  for (let i = 0; i < 5; i++) await seedCompany(store, clientId, { name: `tagged ${i}`, tags: { kind: "x" } });
  for (let i = 0; i < 3; i++) await seedCompany(store, clientId, { name: `plain ${i}` });
  const tagged = await pageOfCompanies(store, clientId, 2, 2, byName, [[{ key: "kind", operator: "=", value: "x" }]]);
  assert.deepEqual([tagged.names, tagged.total], [["tagged 2", "tagged 3"], 5]);
});

test("an empty list has no rows and a total of 0", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  assert.deepEqual(await pageOfCompanies(store, clientId, 1, 10), { names: [], ids: [], total: 0 });
});

test("pages of rows that tie on the ordering column neither repeat nor skip a row", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const ids: string[] = [];
  for (let i = 0; i < 9; i++) ids.push((await seedCompany(store, clientId, { name: i % 2 ? "odd" : "even", created_at: 5_000 })).id);
  for (const order of [
    { column: "name", direction: "desc" },
    { column: "created_at", direction: "asc" },
  ] as const) {
    const seen: string[] = [];
    for (let page = 1; page <= 5; page++) seen.push(...(await pageOfCompanies(store, clientId, page, 2, order)).ids);
    assert.deepEqual([...seen].sort(), [...ids].sort(), `${order.column} ${order.direction}`);
    assert.equal(new Set(seen).size, 9);
  }
});

test("connection lists are paged alike", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const company = await seedCompany(store, clientId);
  const connections = [];
  for (let i = 0; i < 5; i++) connections.push(await seedConnection(store, clientId, company.id));
  const page = async (number: number) =>
    listConnections(store.db, clientId, company.id, { filter: [], order: { column: "created_at", direction: "asc" }, slice: { page: number, pageSize: 2 } });
  assert.deepEqual(await page(1), { rows: connections.slice(0, 2), total: 5 });
  assert.deepEqual(await page(3), { rows: connections.slice(4), total: 5 });
});
