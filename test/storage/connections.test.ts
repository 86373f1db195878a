import assert from "node:assert/strict";
import { test } from "node:test";
import { newId, type ConnectionErrorId, type ConnectionId } from "../../src/ids.ts";
import { insertConnectionError, listConnectionErrors } from "../../src/storage/connection-errors.ts";
import {
  changeConnectionStatus,
  changeLinkKey,
  connectionsOfCompanies,
  deleteConnection,
  findConnection,
  findLinkSession,
  listConnections,
  type ConnectionFilterColumn,
  type ConnectionOrderColumn,
} from "../../src/storage/connections.ts";
import type { Filter, ListOrder } from "../../src/storage/query-filter.ts";
import { openTestStore, seedCompany, seedConnection, seedTwoTenants } from "../support/storage.ts";

test("a connection is found by its client, company and id, with its fields as written", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  const linked = await seedConnection(store, clientA, companyA.id, { integration_key: "qhyg", status: "Linked", last_sync_at: 1_700_000_000_999 });
  const pending = await seedConnection(store, clientA, companyA.id);
  assert.deepEqual(await findConnection(store.db, clientA, companyA.id, linked.id), linked);
  assert.deepEqual(await findConnection(store.db, clientA, companyA.id, pending.id), pending);
  assert.equal(await findConnection(store.db, clientA, companyA.id, newId<ConnectionId>()), undefined);
});

test("a connection is not found through another client or another company", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, companyA, companyB } = await seedTwoTenants(store);
  const otherCompanyOfA = await seedCompany(store, clientA);
  const ofA = await seedConnection(store, clientA, companyA.id);
  const ofB = await seedConnection(store, clientB, companyB.id);
  assert.equal(await findConnection(store.db, clientA, companyB.id, ofB.id), undefined);
  assert.equal(await findConnection(store.db, clientA, companyA.id, ofB.id), undefined);
  assert.equal(await findConnection(store.db, clientA, otherCompanyOfA.id, ofA.id), undefined);
  assert.deepEqual(await findConnection(store.db, clientB, companyB.id, ofB.id), ofB);
});

test("connectionsOfCompanies lists the client's connections of those companies, oldest first", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, companyA, companyB } = await seedTwoTenants(store);
  const second = await seedCompany(store, clientA);
  const newest = await seedConnection(store, clientA, second.id, { created_at: 3_000 });
  const oldest = await seedConnection(store, clientA, companyA.id, { created_at: 1_000 });
  const middle = await seedConnection(store, clientA, second.id, { created_at: 2_000 });
  await seedConnection(store, clientB, companyB.id, { created_at: 500 });
  assert.deepEqual(await connectionsOfCompanies(store.db, clientA, [companyA.id, second.id, companyB.id]), [oldest, middle, newest]);
  assert.deepEqual(await connectionsOfCompanies(store.db, clientA, [companyB.id]), [], "another client's company has none for A");
  assert.deepEqual(await connectionsOfCompanies(store.db, clientA, []), []);
});

test("a company's connections are filtered, ordered and counted", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, companyA, companyB } = await seedTwoTenants(store);
  const linked = await seedConnection(store, clientA, companyA.id, { integration_key: "gbol", status: "Linked" });
  const pending = await seedConnection(store, clientA, companyA.id, { integration_key: "qhyg", status: "PendingAuth" });
  const unlinked = await seedConnection(store, clientA, companyA.id, { integration_key: "gbol-sandbox", status: "Unlinked" });
  await seedConnection(store, clientB, companyB.id, { integration_key: "gbol", status: "Linked" });
  const list = (filter: Filter<ConnectionFilterColumn>, order: ListOrder<ConnectionOrderColumn> = { column: "created_at", direction: "asc" }) =>
    listConnections(store.db, clientA, companyA.id, { filter, order, slice: { page: 1, pageSize: 10 } });

  assert.deepEqual(await list([]), { rows: [linked, pending, unlinked], total: 3 });
  assert.deepEqual(await list([[{ key: "status", operator: "=", value: "Linked" }]]), { rows: [linked], total: 1 });
  assert.deepEqual(await list([[{ key: "status", operator: "!=", value: "Linked" }]]), { rows: [pending, unlinked], total: 2 });
  assert.deepEqual(await list([[{ key: "integration_key", operator: "~", value: "GBOL" }]]), { rows: [linked, unlinked], total: 2 });
  assert.deepEqual(await list([[{ key: "id", operator: "=", value: pending.id }]]), { rows: [pending], total: 1 });
  assert.deepEqual(await list([], { column: "status", direction: "asc" }), { rows: [linked, pending, unlinked], total: 3 });
  assert.deepEqual(await list([], { column: "integration_key", direction: "desc" }), { rows: [pending, unlinked, linked], total: 3 });
  assert.deepEqual(
    await listConnections(store.db, clientA, companyB.id, { filter: [], order: { column: "created_at", direction: "asc" }, slice: { page: 1, pageSize: 10 } }),
    { rows: [], total: 0 },
    "A lists nothing of B's company",
  );
});

test("a status change applies when the connection still has the status it was read with", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  const row = await seedConnection(store, clientA, companyA.id, { status: "PendingAuth" });
  assert.equal(await store.transaction(({ tx }) => changeConnectionStatus(tx, row, "Linked")), true);
  assert.equal((await findConnection(store.db, clientA, companyA.id, row.id))!.status, "Linked");
});

test("a status change read before another request changed the status does nothing", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  const readEarlier = await seedConnection(store, clientA, companyA.id, { status: "PendingAuth" });
  await store.transaction(({ tx }) => changeConnectionStatus(tx, readEarlier, "Linked"));
  assert.equal(await store.transaction(({ tx }) => changeConnectionStatus(tx, readEarlier, "Unlinked")), false);
  assert.equal((await findConnection(store.db, clientA, companyA.id, readEarlier.id))!.status, "Linked");
});

test("of two concurrent requests that read the same status, one changes it", async (t) => {
  const { store, openAnother } = await openTestStore(t);
  const other = await openAnother();
  const { clientA, companyA } = await seedTwoTenants(store);
  const row = await seedConnection(store, clientA, companyA.id, { status: "PendingAuth" });
  const outcomes = await Promise.all([
    store.transaction(({ tx }) => changeConnectionStatus(tx, row, "Linked")),
    other.transaction(({ tx }) => changeConnectionStatus(tx, row, "Unlinked")),
  ]);
  assert.deepEqual(outcomes.filter(Boolean), [true], "exactly one of them changed it");
  const winner = outcomes[0] ? "Linked" : "Unlinked";
  assert.equal((await findConnection(store.db, clientA, companyA.id, row.id))!.status, winner);
});

test("a status change touches no other connection", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, companyA, companyB } = await seedTwoTenants(store);
  const mine = await seedConnection(store, clientA, companyA.id, { status: "PendingAuth" });
  const sibling = await seedConnection(store, clientA, companyA.id, { status: "PendingAuth" });
  const foreign = await seedConnection(store, clientB, companyB.id, { status: "PendingAuth" });
  await store.transaction(({ tx }) => changeConnectionStatus(tx, mine, "Linked"));
  assert.equal((await findConnection(store.db, clientA, companyA.id, sibling.id))!.status, "PendingAuth");
  assert.equal((await findConnection(store.db, clientB, companyB.id, foreign.id))!.status, "PendingAuth");
});

test("deleting a connection removes it and its errors, once", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  const doomed = await seedConnection(store, clientA, companyA.id);
  const kept = await seedConnection(store, clientA, companyA.id);
  const error = (connectionId: ConnectionId) => ({
    id: newId<ConnectionErrorId>(),
    client_id: clientA,
    connection_id: connectionId,
    status_code: "500",
    status_text: "Internal Server Error",
    error_message: "upstream failed",
    errored_at: 1,
    status: "Active" as const,
    resolved_at: null,
  });
  const keptError = error(kept.id);
  await store.transaction(async ({ tx }) => {
    await insertConnectionError(tx, error(doomed.id));
    await insertConnectionError(tx, keptError);
  });
  assert.equal(await store.transaction(({ tx }) => deleteConnection(tx, doomed.id)), true);
  assert.equal(await findConnection(store.db, clientA, companyA.id, doomed.id), undefined);
  assert.deepEqual(await listConnectionErrors(store.db, [doomed.id, kept.id]), [keptError]);
  assert.deepEqual(await connectionsOfCompanies(store.db, clientA, [companyA.id]), [kept]);
  assert.equal(await store.transaction(({ tx }) => deleteConnection(tx, doomed.id)), false);
});

test("a link session is found by company and connection id alone, with the company's name", async (t) => {
  const { store } = await openTestStore(t);
  const { clientB, companyA, companyB } = await seedTwoTenants(store);
  const row = await seedConnection(store, clientB, companyB.id, { integration_key: "qhyg", status: "PendingAuth" });
  assert.deepEqual(await findLinkSession(store.db, companyB.id, row.id), {
    clientId: clientB,
    status: "PendingAuth",
    integrationKey: "qhyg",
    createdAt: row.created_at,
    linkKey: null,
    companyName: "Company of B",
  });
  assert.equal(await findLinkSession(store.db, companyA.id, row.id), undefined, "the connection's own company only");
  assert.equal(await findLinkSession(store.db, companyB.id, newId<ConnectionId>()), undefined);
  await store.transaction(({ tx }) => changeLinkKey(tx, row.id, "fresh-key"));
  assert.equal((await findLinkSession(store.db, companyB.id, row.id))?.linkKey, "fresh-key", "the key of the latest link reminder");
});
