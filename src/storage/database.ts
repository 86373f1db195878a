import { EventEmitter } from "node:events";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import pg from "pg";
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Transaction } from "kysely";
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
export type Tx = Transaction<Database>;

const WAKE_CHANNEL = "hookline_deliveries";
const STATEMENT_CACHE_SIZE = 500;

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

  private constructor(
    readonly db: Db,
    readonly dialect: Dialect,
    private readonly postgresUrl?: string,
  ) {
    this.wakeups.setMaxListeners(0);
  }

  static async open(databaseUrl: string, options: StoreOptions = { sqliteSynchronous: "NORMAL" }): Promise<Store> {
    if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
      // int8 columns hold epoch milliseconds, well inside Number's exact range.
      pg.types.setTypeParser(pg.types.builtins.INT8, Number);
      const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
      return new Store(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), "postgres", databaseUrl);
    }
    const path = databaseUrl.replace(/^sqlite:/, "");
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const sqlite = new SqliteDatabase(path);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma(`synchronous = ${options.sqliteSynchronous}`);
    sqlite.pragma("busy_timeout = 5000");
    sqlite.pragma("foreign_keys = ON");
    return new Store(new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) }), "sqlite");
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
    const result = await this.db.transaction().execute(async (tx) => {
      const value = await work(tx, () => {
        wake = true;
      });
      // PostgreSQL delivers a NOTIFY issued inside a transaction only when it commits.
      if (wake && this.dialect === "postgres") await sql`NOTIFY ${sql.raw(WAKE_CHANNEL)}`.execute(tx);
      return value;
    });
    if (wake && this.dialect === "sqlite") this.wakeups.emit("wake");
    return result;
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
    await this.listener?.end().catch(() => undefined);
    await this.db.destroy();
  }
}
