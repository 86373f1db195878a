import assert from "node:assert/strict";
import { test } from "node:test";
import { asId, type ConsumerId } from "../../src/ids.ts";
import { deleteHistoryOf, insertHistoryEntry, listHistory } from "../../src/storage/consumer-history.ts";
import { openTestStore, seedClient } from "../support/storage.ts";

test("a consumer's history lists its steps oldest first (steps of one millisecond in the order written), only to its client, and goes with it", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const otherClient = await seedClient(store, "Other");
  const consumer = asId<ConsumerId>("consumer-a");
  const neighbour = asId<ConsumerId>("consumer-b");
  await store.transaction(async ({ tx }) => {
    await insertHistoryEntry(tx, clientId, consumer, { at: 2_000, action: "migration.switched", detail: {} });
    await insertHistoryEntry(tx, clientId, consumer, {
      at: 1_000,
      action: "migration.expanded",
      detail: { testUrl: null, eventTypes: ["connection.created"] },
    });
    await insertHistoryEntry(tx, clientId, consumer, { at: 2_000, action: "migration.reverted", detail: { to: "shadow" } });
    await insertHistoryEntry(tx, clientId, neighbour, { at: 1_500, action: "migration.expanded", detail: {} });
  });
  assert.deepEqual(await listHistory(store.db, clientId, consumer), [
    { at: 1_000, action: "migration.expanded", detail: { testUrl: null, eventTypes: ["connection.created"] } },
    { at: 2_000, action: "migration.switched", detail: {} },
    { at: 2_000, action: "migration.reverted", detail: { to: "shadow" } },
  ]);
  assert.deepEqual(await listHistory(store.db, otherClient, consumer), [], "another client's ids find nothing");
  await store.transaction(({ tx }) => deleteHistoryOf(tx, clientId, consumer));
  assert.deepEqual(await listHistory(store.db, clientId, consumer), []);
  assert.equal((await listHistory(store.db, clientId, neighbour)).length, 1, "the neighbour's history stays");
});
