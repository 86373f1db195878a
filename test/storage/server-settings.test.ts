import assert from "node:assert/strict";
import { test } from "node:test";
import { Store } from "../../src/storage/database.ts";
import { readPublicUrl, recordPublicUrl } from "../../src/storage/server-settings.ts";
import { createTestDatabase } from "../support/database.ts";
import { nextTimestamp, openTestStore } from "../support/storage.ts";

test("the public URL an API process recorded is read back, the last one recorded winning", async (t) => {
  const { store, openAnother } = await openTestStore(t);
  assert.equal(await readPublicUrl(store.db), undefined, "none before a server started");
  await recordPublicUrl(store, "http://127.0.0.1:8080", nextTimestamp());
  await recordPublicUrl(await openAnother(), "https://hooks.example.com", nextTimestamp());
  assert.equal(await readPublicUrl(store.db), "https://hooks.example.com");
});

test("a database has Hookline's schema once migrated, and not before", async (t) => {
  const database = await createTestDatabase();
  const store = await Store.open(database.url);
  t.after(async () => {
    await store.close();
    await database.drop();
  });
  assert.equal(await store.hasSchema(), false);
  await store.migrate();
  assert.equal(await store.hasSchema(), true);
});
