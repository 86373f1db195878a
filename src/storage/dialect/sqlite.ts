import { EventEmitter } from "node:events";
import { closeSync, mkdirSync, openSync, readSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { BroadcastChannel } from "node:worker_threads";
import SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import type { Database } from "../schema.ts";
import { insertStatement } from "./insert.ts";
import type { Connection, Db, PlannedInserts, SqlDialect, Tx, UnitOfWork } from "./types.ts";

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
/** Free pages given back per write transaction: 256 pages (1 MiB) take a few milliseconds to move and truncate (docs/performance.md). */
const RELEASE_CHUNK_PAGES = 256;

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
  // The pages of deleted rows go on the file's free list and new rows take them first.
  vacuumAfterChurn: async () => undefined,
};

/** SQLite's auto_vacuum modes, as PRAGMA auto_vacuum reads them. */
const AUTO_VACUUM_INCREMENTAL = 2;

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

/** What a backup copied: the database's size in pages and bytes. */
export interface SqliteBackup {
  pages: number;
  bytes: number;
}

/**
 * Copies the SQLite database at `source` into `destination` with SQLite's
 * online backup API, while other processes keep reading and writing it. The
 * copy is made in one step, under one read transaction: in WAL mode that
 * blocks no writer, and the copy is the database as one commit left it. (Copied
 * in small steps, the backup would start again after every commit of another
 * process, and might never finish beside a busy server.) A new destination is
 * removed when the copy fails; an existing database is replaced by SQLite in
 * one transaction (its own WAL, if any, taken into account), so it is never
 * left half written. An existing file that is no SQLite database is removed
 * first: SQLite writes a backup only over a database.
 */
export async function backupSqliteFile(source: string, destination: string): Promise<SqliteBackup> {
  const sqlite = new SqliteDatabase(source, { fileMustExist: true });
  try {
    if (!isSqliteFile(destination)) rmSync(destination, { force: true });
    sqlite.pragma(`busy_timeout = ${SQLITE_LOCK_TIMEOUT_MS}`);
    // The first step copies nothing and counts the pages; the answer makes the next step copy them all.
    const { totalPages } = await sqlite.backup(destination, { progress: () => ALL_PAGES });
    const pageSize = sqlite.pragma("page_size", { simple: true }) as number;
    return { pages: totalPages, bytes: totalPages * pageSize };
  } finally {
    sqlite.close();
  }
}
/** The most pages better-sqlite3 lets one backup step copy. */
const ALL_PAGES = 0x7fffffff;
const SQLITE_HEADER = "SQLite format 3\0";

/** Whether `path` is a SQLite database: SQLite's header, or empty (SQLite takes an empty file for an empty database). */
function isSqliteFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return false;
  }
  try {
    const header = Buffer.alloc(SQLITE_HEADER.length);
    const read = readSync(fd, header, 0, header.length, 0);
    return read === 0 || header.toString("latin1") === SQLITE_HEADER;
  } finally {
    closeSync(fd);
  }
}

/** SQLite: one file, an in-process signal for wake-ups, carried to the other Stores of this process on the same file. */
export class SqliteConnection implements Connection {
  readonly dialect = sqliteDialect;
  readonly db: Db;
  private readonly wakeups = new EventEmitter();
  private readonly threads: BroadcastChannel;
  /** The connection under Kysely, for the pragmas whose every row must be read. */
  private readonly sqlite: SqliteDatabase.Database;

  constructor(path: string, options: SqliteOptions) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const sqlite = new SqliteDatabase(path);
    this.sqlite = sqlite;
    // Free pages can be given back to the file system (releaseFreeSpace) only in a file made so: the mode can be
    // set while the file has no table yet, and an existing file changes it only by a VACUUM (README, "What is kept, and for how long").
    if (sqlite.prepare("SELECT count(*) AS objects FROM sqlite_schema").pluck().get() === 0) sqlite.pragma("auto_vacuum = INCREMENTAL");
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

  /**
   * One write transaction around the reads and the inserts: nothing another
   * writer commits can come between them, and a statement costs no round trip.
   */
  insertAfterReads<T>(plan: (db: Db) => Promise<PlannedInserts<T>>): Promise<T> {
    return this.transaction(async ({ tx, wakeWorkers }) => {
      const { inserts, wake, value } = await plan(tx);
      for (const insert of inserts) if (insert.rows.length > 0) await insertStatement(sqliteDialect, insert).execute(tx);
      if (wake) wakeWorkers();
      return value;
    });
  }

  /** Runs in a transaction all the same, to take the write lock without blocking the event loop (see beginImmediate). */
  writeStatement<T>(statement: (db: Db) => Promise<T>): Promise<T> {
    return this.transaction(({ tx }) => statement(tx));
  }

  async onWake(listener: () => void): Promise<() => void> {
    this.wakeups.on("wake", listener);
    return () => this.wakeups.off("wake", listener);
  }

  /**
   * Truncates the file's free pages off, RELEASE_CHUNK_PAGES per write
   * transaction (moving the last pages into free ones first), then copies the
   * WAL into the file without waiting for anyone, which is when the file
   * shrinks. A file made without incremental auto-vacuum keeps its free pages
   * for new rows.
   */
  /** A deleted row's page goes on the free list, and the next rows are written there. */
  async reclaimsDeletedRows(): Promise<boolean> {
    return true;
  }

  async releaseFreeSpace(): Promise<number> {
    // Kysely's one connection, held for each use: never in the middle of another flow's transaction on it.
    const read = (pragma: "auto_vacuum" | "freelist_count" | "page_size") =>
      this.db.connection().execute(async () => Number(this.sqlite.pragma(pragma, { simple: true })));
    if ((await read("auto_vacuum")) !== AUTO_VACUUM_INCREMENTAL) return 0;
    const before = await read("freelist_count");
    if (before === 0) return 0;
    let free = before;
    for (;;) {
      // The pragma frees one page per row it returns, so it is read to the end (Kysely would read one row).
      await this.transaction(async () => this.sqlite.pragma(`incremental_vacuum(${RELEASE_CHUNK_PAGES})`));
      const left = await read("freelist_count");
      // Another writer may free pages meanwhile; stop once a chunk gets no further.
      const done = left === 0 || left >= free;
      free = left;
      if (done) break;
    }
    // The file is cut short when the WAL is copied into it; PASSIVE waits for no reader or writer.
    await this.db.connection().execute(async () => this.sqlite.pragma("wal_checkpoint(PASSIVE)"));
    return Math.max(before - free, 0) * (await read("page_size"));
  }

  async close(): Promise<void> {
    this.threads.close();
    await this.db.destroy();
  }
}
