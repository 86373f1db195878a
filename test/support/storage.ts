/**
 * Shared setup of the storage suite (test/storage/): a migrated Store on a
 * fresh database of the dialect under test, and rows to work on. Each
 * storage module has its own test file; they all start here.
 */
import type { TestContext } from "node:test";
import pg from "pg";
import { newId, type ClientId, type CompanyId, type ConnectionId } from "../../src/ids.ts";
import { insertClient } from "../../src/storage/clients.ts";
import { insertCompany, type CompanySnapshot } from "../../src/storage/companies.ts";
import { insertConnection, type ConnectionRow } from "../../src/storage/connections.ts";
import { Store } from "../../src/storage/database.ts";
import type { Database } from "../../src/storage/schema.ts";
import { createTestDatabase, testDialect } from "./database.ts";

export { testDialect };

export interface TestStore {
  store: Store;
  /** Another Store on the same database, closed with the first: a second process sharing it. */
  openAnother(): Promise<Store>;
  /** The database's URL, for looking at its sessions from outside. */
  url: string;
}

/** A migrated Store on a new database, closed (with any other Store opened on it) and dropped when the test ends. */
export async function openTestStore(t: TestContext): Promise<TestStore> {
  const database = await createTestDatabase();
  const stores: Store[] = [];
  t.after(async () => {
    for (const store of stores) await store.close();
    await database.drop();
  });
  const openAnother = async () => {
    const store = await Store.open(database.url);
    stores.push(store);
    return store;
  };
  const store = await openAnother();
  await store.migrate();
  return { store, openAnother, url: database.url };
}

let clock = Date.UTC(2024, 0, 1);
/** Increasing timestamps, so rows made one after another sort in that order by created_at. */
export const nextTimestamp = (): number => (clock += 1000);

export async function seedClient(store: Store, name = "Client"): Promise<ClientId> {
  const id = newId<ClientId>();
  await insertClient(store.db, { id, name, created_at: nextTimestamp() });
  return id;
}

export async function seedCompany(
  store: Store,
  clientId: ClientId,
  company: Partial<Omit<CompanySnapshot, "id">> & { id?: CompanyId } = {},
): Promise<CompanySnapshot> {
  const snapshot: CompanySnapshot = {
    id: company.id ?? newId<CompanyId>(),
    name: company.name ?? "Company",
    description: company.description ?? null,
    created_at: company.created_at ?? nextTimestamp(),
    tags: company.tags ?? {},
  };
  await store.transaction(({ tx }) => insertCompany(tx, clientId, snapshot));
  return snapshot;
}

export async function seedConnection(store: Store, clientId: ClientId, companyId: CompanyId, connection: Partial<ConnectionRow> = {}): Promise<ConnectionRow> {
  const row: ConnectionRow = {
    id: connection.id ?? newId<ConnectionId>(),
    company_id: companyId,
    integration_key: connection.integration_key ?? "gbol",
    status: connection.status ?? "PendingAuth",
    created_at: connection.created_at ?? nextTimestamp(),
    last_sync_at: connection.last_sync_at ?? null,
    link_key: connection.link_key ?? null,
  };
  await store.transaction(({ tx }) => insertConnection(tx, clientId, row));
  return row;
}

/** Two tenants with one company each: the suite checks that an operation given A's id never reaches B's rows. */
export async function seedTwoTenants(store: Store) {
  const clientA = await seedClient(store, "Client A");
  const clientB = await seedClient(store, "Client B");
  const companyA = await seedCompany(store, clientA, { name: "Company of A", tags: { region: "uk" } });
  const companyB = await seedCompany(store, clientB, { name: "Company of B", tags: { region: "uk" } });
  return { clientA, clientB, companyA, companyB };
}

/**
 * Every row of a table, in the order of `orderBy`: for checking what a write
 * left behind where no storage operation reads the table back as it is.
 */
export function readTable<Table extends keyof Database>(store: Store, table: Table, orderBy: keyof Database[Table] & string) {
  // The table and column are the test's constants; the handle's types cannot follow a generic table name.
  return store.db
    .selectFrom(table as "clients")
    .selectAll()
    .orderBy(orderBy as "id")
    .execute() as unknown as Promise<Array<Database[Table]>>;
}

/** A promise with its resolve function outside it, for a transaction that holds its locks until the test lets go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

/** Whether a promise has settled yet, without waiting for it. */
export function watch<T>(promise: Promise<T>): { readonly settled: boolean; promise: Promise<T> } {
  const state = { settled: false, promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

/**
 * On PostgreSQL, resolves once `pending` has settled or some session of the
 * database waits for a lock, whichever comes first: the moment a test can
 * say whether a statement was made to wait for another transaction, without
 * guessing how long that takes.
 */
export async function settledOrWaitingForLock(url: string, pending: { readonly settled: boolean }): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (;;) {
      if (pending.settled) return;
      const { rows } = await client.query(
        "SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      if (rows[0].waiting > 0) return;
    }
  } finally {
    await client.end();
  }
}

/** Lets the event loop turn `turns` times: room for a competing transaction to try its luck, counted in turns, not time. */
export async function turnEventLoop(turns: number): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise(setImmediate);
}

/**
 * Awaits `promise` with the event loop held open. A SQLite Store hears other
 * Stores' wake-ups on a channel that does not keep the process alive on its
 * own (a server has its sockets for that); a test waiting for one has nothing else.
 */
export async function keepingProcessAlive<T>(promise: Promise<T>): Promise<T> {
  const timer = setInterval(() => undefined, 60_000);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}
