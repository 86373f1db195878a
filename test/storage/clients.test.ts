import assert from "node:assert/strict";
import { test } from "node:test";
import { newId, type ClientId } from "../../src/ids.ts";
import { findClient, insertClient, listClients } from "../../src/storage/clients.ts";
import { nextTimestamp, openTestStore } from "../support/storage.ts";

test("a client is found by its id, with its name", async (t) => {
  const { store } = await openTestStore(t);
  const id = newId<ClientId>();
  await insertClient(store.db, { id, name: "Toft Stores", created_at: nextTimestamp() });
  assert.deepEqual(await findClient(store.db, id), { id, name: "Toft Stores" });
  assert.equal(await findClient(store.db, newId<ClientId>()), undefined);
});

test("clients are listed oldest first, whatever order they were written in", async (t) => {
  const { store } = await openTestStore(t);
  const older = { id: newId<ClientId>(), name: "Older", created_at: 1_000 };
  const newer = { id: newId<ClientId>(), name: "Newer", created_at: 2_000 };
  await insertClient(store.db, newer);
  await insertClient(store.db, older);
  assert.deepEqual(await listClients(store.db), [
    { id: older.id, name: "Older" },
    { id: newer.id, name: "Newer" },
  ]);
});

test("a second client with the same id is refused", async (t) => {
  const { store } = await openTestStore(t);
  const id = newId<ClientId>();
  await insertClient(store.db, { id, name: "First", created_at: nextTimestamp() });
  await assert.rejects(insertClient(store.db, { id, name: "Second", created_at: nextTimestamp() }));
  assert.deepEqual(await findClient(store.db, id), { id, name: "First" });
});
