/**
 * The dialect under the storage layer: transactions, the wake-up of workers
 * after commits, and the row locks storage operations ask for. The locking
 * tests hold a transaction open on a promise and check what a second
 * transaction (on a second Store, as another process would) may do meanwhile.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { newId, type ClientId, type CompanyId } from "../../src/ids.ts";
import { findClient, insertClient, listClients } from "../../src/storage/clients.ts";
import { findCompany, updateCompany } from "../../src/storage/companies.ts";
import { isDatabaseUnavailable, Store, type Db } from "../../src/storage/database.ts";
import { dialectOf } from "../../src/storage/dialect/index.ts";
import { CONNECT_TIMEOUT_MS } from "../../src/storage/dialect/postgres.ts";
import { freePort } from "../support/server.ts";
import {
  deferred,
  keepingProcessAlive,
  nextTimestamp,
  openTestStore,
  seedClient,
  seedCompany,
  settledOrWaitingForLock,
  testDialect,
  turnEventLoop,
  watch,
} from "../support/storage.ts";

/** A test that waits for a wake-up or a lock fails after a minute instead of hanging when none comes. */
const waits = { timeout: 60_000 };
const postgresOnly = { ...waits, skip: testDialect !== "postgres" && "row locks are PostgreSQL's" };
const sqliteOnly = { ...waits, skip: testDialect !== "sqlite" && "the database-wide write lock is SQLite's" };

const newClient = (name: string) => ({ id: newId<ClientId>(), name, created_at: nextTimestamp() });

test("a transaction commits all its writes and returns what its work returned", async (t) => {
  const { store } = await openTestStore(t);
  const first = newClient("First");
  const second = newClient("Second");
  const value = await store.transaction(async ({ tx }) => {
    await insertClient(tx, first);
    await insertClient(tx, second);
    return "done";
  });
  assert.equal(value, "done");
  assert.deepEqual(await listClients(store.db), [
    { id: first.id, name: "First" },
    { id: second.id, name: "Second" },
  ]);
});

test("a transaction whose work throws writes nothing, and the caller gets the error", async (t) => {
  const { store } = await openTestStore(t);
  const failure = new Error("changed my mind");
  await assert.rejects(
    store.transaction(async ({ tx }) => {
      await insertClient(tx, newClient("Written then undone"));
      assert.equal((await listClients(tx)).length, 1, "the transaction sees its own write");
      throw failure;
    }),
    (error) => error === failure,
  );
  assert.deepEqual(await listClients(store.db), []);
});

test("a statement that fails inside a transaction undoes the writes before it", async (t) => {
  const { store } = await openTestStore(t);
  const existing = await seedClient(store, "Existing");
  await assert.rejects(
    store.transaction(async ({ tx }) => {
      await insertClient(tx, newClient("Before the failure"));
      await insertClient(tx, { id: existing, name: "Same id again", created_at: nextTimestamp() });
    }),
  );
  assert.deepEqual(await listClients(store.db), [{ id: existing, name: "Existing" }]);
});

test("workers are woken once the transaction that asked for it has committed, and see its writes", waits, async (t) => {
  const { store, openAnother } = await openTestStore(t);
  const other = await openAnother();
  const client = newClient("Woken about");
  let wakes = 0;
  // What another process finds when it is woken: the writes must already be there.
  const seenWhenWoken = deferred<ReturnType<typeof findClient>>();
  const stop = await store.onWake(() => {
    wakes++;
    seenWhenWoken.resolve(findClient(other.db, client.id));
  });
  t.after(stop);

  await store.transaction(async ({ tx, wakeWorkers }) => {
    await insertClient(tx, client);
    wakeWorkers();
    await findClient(tx, client.id);
    assert.equal(wakes, 0, "no worker is woken while the transaction is still open");
  });
  assert.deepEqual(await seenWhenWoken.promise, { id: client.id, name: "Woken about" });
  assert.equal(wakes, 1);
});

test("a transaction that did not ask for workers wakes none", waits, async (t) => {
  const { store } = await openTestStore(t);
  const phases: string[] = [];
  let phase = "without asking";
  const woken = deferred();
  const stop = await store.onWake(() => {
    phases.push(phase);
    woken.resolve();
  });
  t.after(stop);

  await store.transaction(({ tx }) => insertClient(tx, newClient("Quiet")));
  // The next wake-up comes from here; one from the quiet transaction would have come before it.
  await store.transaction(async ({ tx, wakeWorkers }) => {
    await insertClient(tx, newClient("Loud"));
    wakeWorkers();
    phase = "after asking";
  });
  await woken.promise;
  assert.deepEqual(phases, ["after asking"]);
});

test("a transaction that rolls back never wakes workers, even when it asked to", waits, async (t) => {
  const { store } = await openTestStore(t);
  const phases: string[] = [];
  let phase = "rolled back";
  const woken = deferred();
  const stop = await store.onWake(() => {
    phases.push(phase);
    woken.resolve();
  });
  t.after(stop);

  await assert.rejects(
    store.transaction(async ({ tx, wakeWorkers }) => {
      await insertClient(tx, newClient("Undone"));
      wakeWorkers();
      throw new Error("rollback");
    }),
  );
  assert.deepEqual(phases, [], "no wake-up at the rollback");
  // A wake-up from the rolled-back transaction would arrive before this one's.
  await store.transaction(async ({ tx, wakeWorkers }) => {
    await insertClient(tx, newClient("Kept"));
    wakeWorkers();
    phase = "committed";
  });
  await woken.promise;
  assert.deepEqual(phases, ["committed"]);
});

test("on PostgreSQL a rolled-back transaction notifies no other process", postgresOnly, async (t) => {
  const { store, url } = await openTestStore(t);
  t.after(await store.onWake(() => undefined));
  // Watches the channel the Store listens on, as another process does, where each notification can be told apart.
  const observer = new pg.Client({ connectionString: url });
  const payloads: string[] = [];
  const barrier = deferred();
  await observer.connect();
  try {
    const { rows } = await observer.query("SELECT query FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'");
    const channel = String(rows[0].query).slice("LISTEN ".length);
    observer.on("notification", ({ payload }) => {
      payloads.push(payload ?? "");
      if (payload === "barrier") barrier.resolve();
    });
    await observer.query(`LISTEN ${channel}`);

    await assert.rejects(
      store.transaction(async ({ tx, wakeWorkers }) => {
        await insertClient(tx, newClient("Undone"));
        wakeWorkers();
        throw new Error("rollback");
      }),
    );
    await store.transaction(async ({ tx, wakeWorkers }) => {
      await insertClient(tx, newClient("Kept"));
      wakeWorkers();
    });
    // Notifications arrive in commit order: once the barrier is in, any from the two transactions is too.
    await observer.query("SELECT pg_notify($1, 'barrier')", [channel]);
    await barrier.promise;
  } finally {
    // Before the database is dropped under it.
    await observer.end();
  }
  assert.deepEqual(payloads, ["", "barrier"], "one wake-up, from the transaction that committed");
});

test("another Store on the same database is woken by a commit that asked for it", waits, async (t) => {
  const { store, openAnother } = await openTestStore(t);
  const other = await openAnother();
  const woken = deferred();
  const stop = await other.onWake(() => woken.resolve());
  t.after(stop);
  await store.transaction(async ({ tx, wakeWorkers }) => {
    await insertClient(tx, newClient("Shared"));
    wakeWorkers();
  });
  await keepingProcessAlive(woken.promise);
});

test("a listener that stopped listening is not called again", waits, async (t) => {
  const { store } = await openTestStore(t);
  const calls: string[] = [];
  const woken = deferred();
  const stopFirst = await store.onWake(() => calls.push("stopped"));
  const stopSecond = await store.onWake(() => {
    calls.push("listening");
    woken.resolve();
  });
  t.after(stopSecond);
  stopFirst();
  await store.transaction(async ({ tx, wakeWorkers }) => {
    await insertClient(tx, newClient("Anyone there"));
    wakeWorkers();
  });
  await woken.promise;
  assert.deepEqual(calls, ["listening"]);
});

/** A lock on one company row, as storage operations take it, returning the row. */
function lockCompany(db: Db, companyId: CompanyId, lock: "lockRows" | "claimRows" = "lockRows") {
  const dialect = dialectOf(db);
  const query = db.selectFrom("companies").select(["id", "name"]).where("id", "=", companyId);
  return (lock === "lockRows" ? dialect.lockRows(query) : dialect.claimRows(query)).execute();
}

// Storage operations ask the handle for its dialect; it must be the Store's.
test("the dialect of a handle is the Store's", async (t) => {
  const { store } = await openTestStore(t);
  assert.equal(store.dialect.name, testDialect);
  assert.equal(dialectOf(store.db).name, testDialect);
  await store.transaction(async ({ tx }) => assert.equal(dialectOf(tx).name, testDialect));
});

test("lockRows and claimRows select the rows of their query", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const company = await seedCompany(store, clientId, { name: "Locked" });
  await store.transaction(async ({ tx }) => {
    assert.deepEqual(await lockCompany(tx, company.id, "lockRows"), [{ id: company.id, name: "Locked" }]);
    assert.deepEqual(await lockCompany(tx, company.id, "claimRows"), [{ id: company.id, name: "Locked" }]);
  });
});

test("lockRows makes a second transaction's lock on the same row wait until the first commits", postgresOnly, async (t) => {
  const testStore = await openTestStore(t);
  const { store } = testStore;
  const other = await testStore.openAnother();
  const clientId = await seedClient(store);
  const company = await seedCompany(store, clientId, { name: "Before" });
  const order: string[] = [];
  const firstLocked = deferred();
  const release = deferred();

  const first = store.transaction(async ({ tx }) => {
    await lockCompany(tx, company.id);
    firstLocked.resolve();
    await release.promise;
    await updateCompany(tx, clientId, company.id, { name: "After", description: null });
    order.push("first commits");
  });
  await firstLocked.promise;
  const second = watch(
    other.transaction(async ({ tx }) => {
      const [row] = await lockCompany(tx, company.id);
      order.push("second holds the lock");
      return row!.name;
    }),
  );

  await settledOrWaitingForLock(testStore.url, second);
  // Noted before letting go, and checked after, so that a failure does not leave the first transaction open.
  const settledWhileHeld = second.settled;
  release.resolve();
  await first;
  assert.equal(settledWhileHeld, false, "the second lock waits while the first transaction holds the row");
  assert.equal(await second.promise, "After", "the second transaction reads the row as the first committed it");
  assert.deepEqual(order, ["first commits", "second holds the lock"]);
});

test("lockRows on other rows does not wait", postgresOnly, async (t) => {
  const testStore = await openTestStore(t);
  const { store } = testStore;
  const other = await testStore.openAnother();
  const clientId = await seedClient(store);
  const held = await seedCompany(store, clientId, { name: "Held" });
  const free = await seedCompany(store, clientId, { name: "Free" });
  const firstLocked = deferred();
  const release = deferred();
  const first = store.transaction(async ({ tx }) => {
    await lockCompany(tx, held.id);
    firstLocked.resolve();
    await release.promise;
  });
  await firstLocked.promise;
  try {
    const rows = await other.transaction(({ tx }) => lockCompany(tx, free.id));
    assert.deepEqual(rows, [{ id: free.id, name: "Free" }]);
  } finally {
    release.resolve();
    await first;
  }
});

test("claimRows passes over rows another transaction holds instead of waiting for them", postgresOnly, async (t) => {
  const testStore = await openTestStore(t);
  const { store } = testStore;
  const other = await testStore.openAnother();
  const clientId = await seedClient(store);
  const companies = [await seedCompany(store, clientId, { name: "One" }), await seedCompany(store, clientId, { name: "Two" })];
  const claimNext = (db: Db) =>
    dialectOf(db)
      .claimRows(db.selectFrom("companies").select("id").where("client_id", "=", clientId).orderBy("created_at").limit(1))
      .execute();
  const firstClaimed = deferred<string>();
  const release = deferred();

  const first = store.transaction(async ({ tx }) => {
    const [row] = await claimNext(tx);
    firstClaimed.resolve(row!.id);
    await release.promise;
  });
  assert.equal(await firstClaimed.promise, companies[0]!.id);
  const second = watch(other.transaction(({ tx }) => claimNext(tx)));
  await settledOrWaitingForLock(testStore.url, second);
  const settledWhileHeld = second.settled;
  release.resolve();
  await first;
  assert.equal(settledWhileHeld, true, "the second claim does not wait for the first transaction");
  assert.deepEqual(await second.promise, [{ id: companies[1]!.id }], "the second claim takes the next row");
});

test("a write transaction keeps a second writer out until it commits", sqliteOnly, async (t) => {
  const testStore = await openTestStore(t);
  const { store } = testStore;
  const other = await testStore.openAnother();
  const clientId = await seedClient(store);
  const company = await seedCompany(store, clientId, { name: "Before" });
  const order: string[] = [];
  const firstStarted = deferred();
  const release = deferred();

  const first = store.transaction(async ({ tx }) => {
    firstStarted.resolve();
    await release.promise;
    await updateCompany(tx, clientId, company.id, { name: "After", description: null });
    order.push("first commits");
  });
  await firstStarted.promise;
  const second = other.transaction(async ({ tx }) => {
    order.push("second starts");
    return (await findCompany(tx, clientId, company.id))!.name;
  });
  // Room for the second transaction to begin if nothing kept it out.
  await turnEventLoop(50);
  const begunWhileOpen = [...order];
  release.resolve();
  await first;
  assert.deepEqual(begunWhileOpen, [], "the second transaction has not begun while the first is open");
  assert.equal(await second, "After", "the second transaction reads what the first committed");
  assert.deepEqual(order, ["first commits", "second starts"]);
});

test("a statement that is wrong is not the database being unavailable", async (t) => {
  const { store } = await openTestStore(t);
  const existing = await seedClient(store, "Existing");
  const error = await insertClient(store.db, { id: existing, name: "Same id again", created_at: nextTimestamp() }).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  assert.ok(error, "the duplicate id is refused");
  assert.equal(isDatabaseUnavailable(error), false);
});

test(
  "on PostgreSQL a server nobody answers for fails statements as unavailable, at once, and the wake-up connection keeps trying without failing",
  { ...waits, skip: testDialect !== "postgres" && "PostgreSQL's connections" },
  async (t) => {
    const store = await Store.open(`postgres://postgres@127.0.0.1:${await freePort()}/nobody`);
    t.after(() => store.close());
    const stopListening = await store.onWake(() => undefined);
    const started = Date.now();
    const error = await listClients(store.db).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    assert.ok(error, "the statement fails");
    assert.equal(isDatabaseUnavailable(error), true, `recognised as the database unavailable: ${String(error)}`);
    assert.ok(Date.now() - started < CONNECT_TIMEOUT_MS, "a refused connection fails the statement without waiting for the connect timeout");
    stopListening();
  },
);

test("on SQLite a write kept out past the lock timeout fails as the database unavailable", sqliteOnly, async (t) => {
  const testStore = await openTestStore(t);
  const other = await testStore.openAnother();
  const held = deferred();
  const release = deferred();
  const holder = testStore.store.transaction(async () => {
    held.resolve();
    await release.promise;
  });
  await held.promise;
  const error = await other
    .transaction(async () => undefined)
    .then(
      () => undefined,
      (failure: unknown) => failure,
    );
  release.resolve();
  await holder;
  assert.equal((error as { code?: string } | undefined)?.code, "SQLITE_BUSY");
  assert.equal(isDatabaseUnavailable(error), true);
});
