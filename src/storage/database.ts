import { EventEmitter } from "node:events";
import { BroadcastChannel } from "node:worker_threads";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import pg from "pg";
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, sql } from "kysely";
import type { Database } from "./schema.ts";
import { migrations } from "./migrations/index.ts";

export type Dialect = "sqlite" | "postgres";

export interface StoreOptions {
  /**
   * SQLite's `synchronous` in WAL mode: NORMAL survives a crash of the process
   * but may lose the last commits to a power loss; FULL syncs every commit.
   */
  sqliteSynchronous: "NORMAL" | "FULL";
}
export type Db = Kysely<Database>;
/** A database handle inside a transaction. */
export type Tx = Kysely<Database>;

const WAKE_CHANNEL = "hookline_deliveries";

/** Which database a handle talks to: for code that holds only a handle or a transaction, not the Store. */
export function dialectOf(db: Db): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? "postgres" : "sqlite";
}

/** The SQLite file a database URL names (`:memory:` for none), or null for PostgreSQL. */
export function sqliteFileOf(databaseUrl: string): string | null {
  return /^postgres(ql)?:\/\//.test(databaseUrl) ? null : databaseUrl.replace(/^sqlite:/, "");
}

const STATEMENT_CACHE_SIZE = 500;
/** How long a SQLite write waits for another connection's transaction before it fails. */
const SQLITE_LOCK_TIMEOUT_MS = 5000;

/**
 * BEGIN IMMEDIATE without blocking the event loop: SQLite's own busy handler
 * sleeps inside the call for a millisecond or more while another connection
 * (another process, or another Store on the file) commits, which usually takes a
 * fraction of that. So the lock is tried without waiting, and on SQLITE_BUSY
 * tried again once the event loop has turned, then after growing pauses.
 */
async function beginImmediate(connection: Kysely<Database>): Promise<void> {
  const deadline = Date.now() + SQLITE_LOCK_TIMEOUT_MS;
  await sql`PRAGMA busy_timeout = 0`.execute(connection);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await sql`BEGIN IMMEDIATE`.execute(connection);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== "SQLITE_BUSY" || Date.now() > deadline) throw error;
        await (attempt < 8 ? new Promise(setImmediate) : new Promise((resolve) => setTimeout(resolve, Math.min(attempt - 7, 10))));
      }
    }
  } finally {
    await sql.raw(`PRAGMA busy_timeout = ${SQLITE_LOCK_TIMEOUT_MS}`).execute(connection);
  }
}

/**
 * Kysely prepares every query it runs, and preparing costs SQLite more than
 * running most of Hookline's statements; reusing prepared statements by SQL
 * text (least recently used ones evicted) removes that cost from hot paths.
 */
function withStatementCache(sqlite: SqliteDatabase.Database) {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement) statements.delete(sql);
      else statement = sqlite.prepare(sql);
      statements.set(sql, statement);
      if (statements.size > STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
      return statement;
    },
  };
}

/**
 * A database handle plus the little that differs between the two dialects:
 * row locking when claiming work, and how writers wake workers (an in-process
 * signal on SQLite, LISTEN/NOTIFY on PostgreSQL so other processes hear it).
 */
export class Store {
  private readonly wakeups = new EventEmitter();
  private listener: pg.Client | undefined;
  /** Carries SQLite wake-ups to the other Stores of this process on the same file; PostgreSQL uses NOTIFY. */
  private threads: BroadcastChannel | undefined;
  readonly dialect: Dialect;

  private constructor(
    readonly db: Db,
    private readonly postgresUrl?: string,
    sqlitePath?: string,
  ) {
    this.dialect = dialectOf(db);
    this.wakeups.setMaxListeners(0);
    if (this.dialect === "sqlite") {
      this.threads = new BroadcastChannel(`hookline-wake ${sqlitePath}`);
      this.threads.unref();
      this.threads.onmessage = () => this.wakeups.emit("wake");
    }
  }

  static async open(databaseUrl: string, options: StoreOptions = { sqliteSynchronous: "NORMAL" }): Promise<Store> {
    const path = sqliteFileOf(databaseUrl);
    if (path === null) {
      // int8 columns hold epoch milliseconds, well inside Number's exact range.
      pg.types.setTypeParser(pg.types.builtins.INT8, Number);
      const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
      return new Store(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), databaseUrl);
    }
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const sqlite = new SqliteDatabase(path);
    sqlite.pragma("journal_mode = WAL");
    // Checkpoints run inside a commit and sync the database file: every 10,000 pages (about
    // 40 MB of WAL) rather than SQLite's 1,000, they come ten times less often and copy each
    // page that was rewritten meanwhile (a delivery is written three times) only once.
    sqlite.pragma("wal_autocheckpoint = 10000");
    sqlite.pragma(`synchronous = ${options.sqliteSynchronous}`);
    sqlite.pragma(`busy_timeout = ${SQLITE_LOCK_TIMEOUT_MS}`);
    sqlite.pragma("foreign_keys = ON");
    return new Store(new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) }), undefined, path);
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: { getMigrations: async () => migrations } });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error;
  }

  /**
   * Runs `work` in one transaction. When it wrote deliveries, workers are
   * woken once the commit is durable, never before.
   */
  async transaction<T>(work: (tx: Tx, wakeWorkers: () => void) => Promise<T>): Promise<T> {
    let wake = false;
    const wakeWorkers = () => {
      wake = true;
    };
    if (this.dialect === "postgres") {
      return this.db.transaction().execute(async (tx) => {
        const value = await work(tx, wakeWorkers);
        // PostgreSQL delivers a NOTIFY issued inside a transaction only when it commits.
        if (wake) await sql`NOTIFY ${sql.raw(WAKE_CHANNEL)}`.execute(tx);
        return value;
      });
    }
    // BEGIN IMMEDIATE takes SQLite's write lock up front: a deferred transaction that read first
    // fails at its first write if another connection wrote in between, which happens as soon as
    // a worker runs beside the API.
    const result = await this.db.connection().execute(async (connection) => {
      await beginImmediate(connection);
      try {
        const value = await work(connection, wakeWorkers);
        await sql`COMMIT`.execute(connection);
        return value;
      } catch (error) {
        await sql`ROLLBACK`.execute(connection);
        throw error;
      }
    });
    if (wake) {
      this.wakeups.emit("wake");
      this.threads!.postMessage("wake");
    }
    return result;
  }

  /**
   * Runs one statement that writes. On PostgreSQL a statement is atomic on its
   * own, so it runs without the BEGIN and COMMIT round trips; on SQLite it runs
   * in a transaction all the same, to take the write lock without blocking the
   * event loop (see beginImmediate).
   */
  async writeStatement<T>(statement: (db: Tx) => Promise<T>): Promise<T> {
    return this.dialect === "postgres" ? statement(this.db) : this.transaction(statement);
  }

  /** Calls `listener` whenever new deliveries were committed by any process sharing this database. */
  async onWake(listener: () => void): Promise<() => void> {
    this.wakeups.on("wake", listener);
    if (this.dialect === "postgres" && !this.listener) {
      this.listener = new pg.Client({ connectionString: this.postgresUrl });
      this.listener.on("notification", () => this.wakeups.emit("wake"));
      this.listener.on("error", () => undefined);
      await this.listener.connect();
      await this.listener.query(`LISTEN ${WAKE_CHANNEL}`);
    }
    return () => this.wakeups.off("wake", listener);
  }

  async close(): Promise<void> {
    this.threads?.close();
    await this.listener?.end().catch(() => undefined);
    await this.db.destroy();
  }
}
