import assert from "node:assert/strict";
import { test } from "node:test";
import { newId, type ApiKeyId, type ClientId } from "../../src/ids.ts";
import { apiKeyExists, deleteApiKey, findClientByKeyHash, findKeyByHash, insertApiKey, listApiKeys } from "../../src/storage/api-keys.ts";
import type { Store } from "../../src/storage/database.ts";
import { nextTimestamp, openTestStore, seedClient } from "../support/storage.ts";

async function seedApiKey(store: Store, clientId: ClientId, keyHash = `hash-${newId()}`) {
  const row = { id: newId<ApiKeyId>(), client_id: clientId, name: null, key_hash: keyHash, key_hint: "…abcd", created_at: nextTimestamp() };
  await insertApiKey(store.db, row);
  return row;
}

test("a client's keys are listed oldest first, and only its own", async (t) => {
  const { store } = await openTestStore(t);
  const clientA = await seedClient(store, "A");
  const clientB = await seedClient(store, "B");
  const first = await seedApiKey(store, clientA);
  const second = await seedApiKey(store, clientA);
  await seedApiKey(store, clientB);
  assert.deepEqual(await listApiKeys(store.db, clientA), [first, second]);
  assert.deepEqual(await listApiKeys(store.db, newId<ClientId>()), []);
});

test("a key's name and hint are kept as written", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const row = { id: newId<ApiKeyId>(), client_id: clientId, name: "Zahlungsläufe ✓", key_hash: "h", key_hint: "…wxyz", created_at: nextTimestamp() };
  await insertApiKey(store.db, row);
  assert.deepEqual(await listApiKeys(store.db, clientId), [row]);
});

test("a key's hash finds the client that owns it", async (t) => {
  const { store } = await openTestStore(t);
  const clientA = await seedClient(store, "A");
  const clientB = await seedClient(store, "B");
  await seedApiKey(store, clientA, "hash-of-a");
  await seedApiKey(store, clientB, "hash-of-b");
  assert.deepEqual(await findClientByKeyHash(store.db, "hash-of-a"), { id: clientA, name: "A" });
  assert.deepEqual(await findClientByKeyHash(store.db, "hash-of-b"), { id: clientB, name: "B" });
  assert.equal(await findClientByKeyHash(store.db, "hash-of-nobody"), undefined);
});

test("two keys with the same hash are refused, so a hash names one client", async (t) => {
  const { store } = await openTestStore(t);
  const clientA = await seedClient(store, "A");
  const clientB = await seedClient(store, "B");
  await seedApiKey(store, clientA, "same-hash");
  await assert.rejects(seedApiKey(store, clientB, "same-hash"));
  assert.deepEqual(await findClientByKeyHash(store.db, "same-hash"), { id: clientA, name: "A" });
});

test("deleting a key removes it once, and only from its own client", async (t) => {
  const { store } = await openTestStore(t);
  const clientA = await seedClient(store, "A");
  const clientB = await seedClient(store, "B");
  const keyA = await seedApiKey(store, clientA, "hash-of-a");
  const keyB = await seedApiKey(store, clientB, "hash-of-b");

  assert.equal(await deleteApiKey(store.db, clientA, keyB.id), false, "A cannot delete B's key");
  assert.deepEqual(await listApiKeys(store.db, clientB), [keyB]);
  assert.deepEqual(await findClientByKeyHash(store.db, "hash-of-b"), { id: clientB, name: "B" });

  assert.equal(await deleteApiKey(store.db, clientA, keyA.id), true);
  assert.deepEqual(await listApiKeys(store.db, clientA), []);
  assert.equal(await findClientByKeyHash(store.db, "hash-of-a"), undefined, "a deleted key opens nothing");
  assert.equal(await deleteApiKey(store.db, clientA, keyA.id), false, "a second delete finds nothing");
});

test("a key's hash finds the key and its client; the key exists until deleted, for its own client only", async (t) => {
  const { store } = await openTestStore(t);
  const clientA = await seedClient(store, "A");
  const clientB = await seedClient(store, "B");
  const key = await seedApiKey(store, clientA, "hash-of-key");
  assert.deepEqual(await findKeyByHash(store.db, "hash-of-key"), { apiKeyId: key.id, client: { id: clientA, name: "A" } });
  assert.equal(await findKeyByHash(store.db, "unknown"), undefined);
  assert.equal(await apiKeyExists(store.db, clientA, key.id), true);
  assert.equal(await apiKeyExists(store.db, clientB, key.id), false);
  await deleteApiKey(store.db, clientA, key.id);
  assert.equal(await apiKeyExists(store.db, clientA, key.id), false);
});
