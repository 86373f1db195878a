import assert from "node:assert/strict";
import { test } from "node:test";
import { newId } from "../../src/ids.ts";
import { recordAccessUse } from "../../src/storage/portal-access-uses.ts";
import { openTestStore, seedClient } from "../support/storage.ts";

test("an access link's use is recorded once: a second use of the same link is refused", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const use = { id: newId(), clientId, expiresAt: 2_000 };
  assert.equal(await recordAccessUse(store, use, 1_000), true);
  assert.equal(await recordAccessUse(store, use, 1_500), false);
  assert.equal(await recordAccessUse(store, { ...use, id: newId() }, 1_500), true, "another link is its own");
});

test("two processes using one link at the same time: exactly one gets it", async (t) => {
  const { store, openAnother } = await openTestStore(t);
  const other = await openAnother();
  const clientId = await seedClient(store);
  const use = { id: newId(), clientId, expiresAt: 2_000 };
  const outcomes = await Promise.all([recordAccessUse(store, use, 1_000), recordAccessUse(other, use, 1_000)]);
  assert.deepEqual(outcomes.sort(), [false, true]);
});

test("uses of expired links are deleted by the next use of any link", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const old = { id: newId(), clientId, expiresAt: 2_000 };
  await recordAccessUse(store, old, 1_000);
  await recordAccessUse(store, { id: newId(), clientId, expiresAt: 9_000 }, 5_000);
  const left = await store.db.selectFrom("portal_access_uses").select("id").execute();
  assert.deepEqual(left.map((row) => row.id).includes(old.id), false);
  assert.equal(left.length, 1);
});
