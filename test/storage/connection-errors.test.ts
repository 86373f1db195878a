import assert from "node:assert/strict";
import { test } from "node:test";
import { newId, type ClientId, type ConnectionErrorId, type ConnectionId } from "../../src/ids.ts";
import { insertConnectionError, listConnectionErrors, resolveConnectionErrors } from "../../src/storage/connection-errors.ts";
import type { Store } from "../../src/storage/database.ts";
import type { ConnectionErrorsTable } from "../../src/storage/schema.ts";
import { openTestStore, seedConnection, seedTwoTenants } from "../support/storage.ts";

async function seedError(
  store: Store,
  clientId: ClientId,
  connectionId: ConnectionId,
  error: Partial<ConnectionErrorsTable> & Pick<ConnectionErrorsTable, "errored_at">,
): Promise<ConnectionErrorsTable> {
  const row: ConnectionErrorsTable = {
    id: newId<ConnectionErrorId>(),
    client_id: clientId,
    connection_id: connectionId,
    status_code: "401",
    status_text: "Unauthorized",
    error_message: "The token was revoked — «reconnect»",
    status: "Active",
    resolved_at: null,
    ...error,
  };
  await store.transaction(({ tx }) => insertConnectionError(tx, row));
  return row;
}

async function seedConnections(store: Store) {
  const tenants = await seedTwoTenants(store);
  const first = await seedConnection(store, tenants.clientA, tenants.companyA.id);
  const second = await seedConnection(store, tenants.clientA, tenants.companyA.id);
  const ofB = await seedConnection(store, tenants.clientB, tenants.companyB.id);
  return { ...tenants, first, second, ofB };
}

test("the errors of the connections asked for are listed oldest first, ties in id order", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, first, second, ofB } = await seedConnections(store);
  const late = await seedError(store, clientA, first.id, { errored_at: 3_000 });
  const early = await seedError(store, clientA, second.id, { errored_at: 1_000 });
  const tied = [await seedError(store, clientA, first.id, { errored_at: 2_000 }), await seedError(store, clientA, second.id, { errored_at: 2_000 })].sort(
    (a, b) => (a.id < b.id ? -1 : 1),
  );
  await seedError(store, clientB, ofB.id, { errored_at: 1_500 });
  assert.deepEqual(await listConnectionErrors(store.db, [first.id, second.id]), [early, ...tied, late]);
  assert.deepEqual(await listConnectionErrors(store.db, [second.id]), [early, tied.find((row) => row.connection_id === second.id)]);
  assert.deepEqual(await listConnectionErrors(store.db, []), []);
});

test("resolving marks a connection's active errors resolved at the given time, and only those", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, first, second, ofB } = await seedConnections(store);
  const active = await seedError(store, clientA, first.id, { errored_at: 1_000 });
  const resolvedBefore = await seedError(store, clientA, first.id, { errored_at: 2_000, status: "Resolved", resolved_at: 2_500 });
  const sibling = await seedError(store, clientA, second.id, { errored_at: 1_000 });
  const foreign = await seedError(store, clientB, ofB.id, { errored_at: 1_000 });

  await store.transaction(({ tx }) => resolveConnectionErrors(tx, first.id, 9_000));
  assert.deepEqual(await listConnectionErrors(store.db, [first.id]), [{ ...active, status: "Resolved", resolved_at: 9_000 }, resolvedBefore]);
  assert.deepEqual(await listConnectionErrors(store.db, [second.id]), [sibling]);
  assert.deepEqual(await listConnectionErrors(store.db, [ofB.id]), [foreign]);
});
