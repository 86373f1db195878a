/**
 * The durability settings an operator chooses reach the database sessions
 * Hookline opens: SQLite's `synchronous` (HOOKLINE_SQLITE_SYNCHRONOUS) and
 * PostgreSQL's `synchronous_commit` (HOOKLINE_POSTGRES_SYNCHRONOUS_COMMIT).
 */
import assert from "node:assert/strict";
import { sql } from "kysely";
import { test, type TestContext } from "node:test";
import { loadConfig } from "../../src/config.ts";
import { Store, type StoreOptions } from "../../src/storage/database.ts";
import { createTestDatabase, testDialect } from "../support/database.ts";

const defaults = { sqliteSynchronous: "NORMAL", postgresSynchronousCommit: "on" } as const;

/** A store on a fresh database, closed before the database is dropped when the test ends. */
async function open(t: TestContext, options: StoreOptions) {
  const database = await createTestDatabase();
  const store = await Store.open(database.url, options);
  t.after(async () => {
    await store.close();
    await database.drop();
  });
  return { database, store };
}

/** The session's setting, as the database reports it, read through the store's own pool. */
async function reported(store: Store): Promise<string> {
  if (testDialect === "postgres") return (await sql<{ synchronous_commit: string }>`SHOW synchronous_commit`.execute(store.db)).rows[0]!.synchronous_commit;
  // SQLite reports 1 for NORMAL and 2 for FULL.
  return ["OFF", "NORMAL", "FULL"][(await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(store.db)).rows[0]!.synchronous]!;
}

test("the defaults: SQLite syncs at checkpoints (NORMAL), PostgreSQL waits for every commit to be flushed (on)", async (t) => {
  const config = loadConfig({});
  assert.equal(config.sqliteSynchronous, "NORMAL");
  assert.equal(config.postgresSynchronousCommit, "on");
  assert.throws(() => loadConfig({ HOOKLINE_POSTGRES_SYNCHRONOUS_COMMIT: "sometimes" }), /HOOKLINE_POSTGRES_SYNCHRONOUS_COMMIT must be on or off/);
  const { store } = await open(t, defaults);
  assert.equal(await reported(store), testDialect === "postgres" ? "on" : "NORMAL");
});

test("the operator's choice is what the sessions use", async (t) => {
  const { store } = await open(t, { sqliteSynchronous: "FULL", postgresSynchronousCommit: "off" });
  // Several reads, so that more than one pooled session answers on PostgreSQL.
  const seen = await Promise.all(Array.from({ length: 4 }, () => reported(store)));
  assert.deepEqual(new Set(seen), new Set([testDialect === "postgres" ? "off" : "FULL"]));
});
