import { EventEmitter } from "node:events";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { BroadcastChannel } from "node:worker_threads";
import SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import type { Database } from "../schema.ts";
import type { Connection, Db, SqlDialect, Tx, UnitOfWork } from "./types.ts";

export interface SqliteOptions {
  /**
   * SQLite's `synchronous` in WAL mode: NORMAL survives a crash of the process
   * but may lose the last commits to a power loss; FULL syncs every commit.
   */
  synchronous: "NORMAL" | "FULL";
}

const STATEMENT_CACHE_SIZE = 500;
/** How long a SQLite write waits for another connection's transaction before it fails. */
const SQLITE_LOCK_TIMEOUT_MS = 5000;

/**
 * Whether an error says the SQLite file cannot be written for now rather than
 * that a statement is wrong: another connection held the write lock past the
 * lock timeout (SQLITE_BUSY), the disk or the database is full (SQLITE_FULL),
 * or the file system failed a read or write (SQLITE_IOERR and its extended codes).
 */
export function isSqliteUnavailable(error: object): boolean {
  const { code } = error as { code?: unknown };
  return typeof code === "string" && /^SQLITE_(BUSY|FULL|IOERR)(_|$)/.test(code);
}

export const sqliteDialect: SqlDialect = {
  name: "sqlite",
  // A write transaction (BEGIN IMMEDIATE) already excludes every other writer.
  lockRows: (query) => query,
  claimRows: (query) => query,
  jsonRecords(_table, rows, alias, columns) {
    // SQLite reads a field by position faster than by name (a third of a batch's insert): each row goes as an array.
    const json = JSON.stringify(rows.map((row) => columns.map((column) => (row as Record<string, unknown>)[column])));
    return sql`(SELECT ${sql.raw(columns.map((column, index) => `value ->> ${index} AS ${column}`).join(", "))} FROM json_each(${json})) AS ${sql.raw(alias)}`;
  },
};

/**
 * BEGIN IMMEDIATE without blocking the event loop: SQLite's own busy handler
 * sleeps inside the call for a millisecond or more while another connection
 * (another process, or another Store on the file) commits, which usually takes a
 * fraction of that. So the lock is tried without waiting, and on SQLITE_BUSY
 * tried again once the event loop has turned, then after growing pauses.
 */
async function beginImmediate(connection: Db): Promise<void> {
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

/** SQLite: one file, an in-process signal for wake-ups, carried to the other Stores of this process on the same file. */
export class SqliteConnection implements Connection {
  readonly dialect = sqliteDialect;
  readonly db: Db;
  private readonly wakeups = new EventEmitter();
  private readonly threads: BroadcastChannel;
  private readonly sqlite: SqliteDatabase.Database;

  constructor(path: string, options: SqliteOptions) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const sqlite = (this.sqlite = new SqliteDatabase(path));
    sqlite.pragma("journal_mode = WAL");
    // Checkpoints run inside a commit and sync the database file: every 10,000 pages (about
    // 40 MB of WAL) rather than SQLite's 1,000, they come ten times less often and copy each
    // page that was rewritten meanwhile (a delivery is written three times) only once.
    sqlite.pragma("wal_autocheckpoint = 10000");
    sqlite.pragma(`synchronous = ${options.synchronous}`);
    sqlite.pragma(`busy_timeout = ${SQLITE_LOCK_TIMEOUT_MS}`);
    sqlite.pragma("foreign_keys = ON");
    this.db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    this.wakeups.setMaxListeners(0);
    this.threads = new BroadcastChannel(`hookline-wake ${path}`);
    this.threads.unref();
    this.threads.onmessage = () => this.wakeups.emit("wake");
  }

  async transaction<T>(work: (uow: UnitOfWork) => Promise<T>): Promise<T> {
    let wake = false;
    // BEGIN IMMEDIATE takes SQLite's write lock up front: a deferred transaction that read first
    // fails at its first write if another connection wrote in between, which happens as soon as
    // a worker runs beside the API.
    const result = await this.db.connection().execute(async (connection) => {
      await beginImmediate(connection);
      try {
        const value = await work({ tx: connection as Tx, wakeWorkers: () => (wake = true) });
        await sql`COMMIT`.execute(connection);
        return value;
      } catch (error) {
        // SQLite rolls back by itself on some errors (SQLITE_FULL, SQLITE_IOERR): a ROLLBACK then would fail and hide the error.
        if (this.sqlite.inTransaction) await sql`ROLLBACK`.execute(connection);
        throw error;
      }
    });
    if (wake) {
      this.wakeups.emit("wake");
      this.threads.postMessage("wake");
    }
    return result;
  }

  /** Runs in a transaction all the same, to take the write lock without blocking the event loop (see beginImmediate). */
  writeStatement<T>(statement: (db: Db) => Promise<T>): Promise<T> {
    return this.transaction(({ tx }) => statement(tx));
  }

  async onWake(listener: () => void): Promise<() => void> {
    this.wakeups.on("wake", listener);
    return () => this.wakeups.off("wake", listener);
  }

  async close(): Promise<void> {
    this.threads.close();
    await this.db.destroy();
  }
}
