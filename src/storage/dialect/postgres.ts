import { EventEmitter } from "node:events";
import pg from "pg";
import { Kysely, PostgresDialect, sql } from "kysely";
import type { Database } from "../schema.ts";
import type { Connection, Db, SqlDialect, Tx, UnitOfWork } from "./types.ts";

const WAKE_CHANNEL = "hookline_deliveries";

export const postgresDialect: SqlDialect = {
  name: "postgres",
  lockRows: (query) => query.forUpdate(),
  claimRows: (query) => query.forUpdate().skipLocked(),
  // PostgreSQL types each field by the table's own columns.
  jsonRecords: (table, rows, alias) => sql`json_populate_recordset(NULL::${sql.raw(table)}, CAST(${JSON.stringify(rows)} AS json)) AS ${sql.raw(alias)}`,
  async vacuumAfterChurn(db, table, fraction) {
    // A storage parameter of the table: an operator's later ALTER TABLE ... SET or RESET overrides it.
    await sql`ALTER TABLE ${sql.table(table)} SET (autovacuum_vacuum_scale_factor = ${sql.lit(fraction)})`.execute(db);
  },
};

export interface PostgresOptions {
  /**
   * PostgreSQL's `synchronous_commit` for Hookline's sessions. `off` answers a
   * commit before its WAL record is flushed: a crash of the database server
   * (not of Hookline) may lose the last few hundred milliseconds of commits,
   * but nothing is ever left half-written.
   */
  synchronousCommit: "on" | "off";
}

/** PostgreSQL: a pool of connections, and LISTEN/NOTIFY so that workers in other processes hear of new deliveries. */
export class PostgresConnection implements Connection {
  readonly dialect = postgresDialect;
  readonly db: Db;
  private readonly wakeups = new EventEmitter();
  private listener: pg.Client | undefined;

  constructor(
    private readonly url: string,
    options: PostgresOptions,
  ) {
    // int8 columns hold epoch milliseconds, well inside Number's exact range.
    pg.types.setTypeParser(pg.types.builtins.INT8, Number);
    const pool = new pg.Pool({ connectionString: url, max: 10, options: `-c synchronous_commit=${options.synchronousCommit}` });
    this.db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    this.wakeups.setMaxListeners(0);
  }

  transaction<T>(work: (uow: UnitOfWork) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (tx) => {
      let wake = false;
      const value = await work({ tx: tx as unknown as Tx, wakeWorkers: () => (wake = true) });
      // PostgreSQL delivers a NOTIFY issued inside a transaction only when it commits.
      if (wake) await sql`NOTIFY ${sql.raw(WAKE_CHANNEL)}`.execute(tx);
      return value;
    });
  }

  /** A statement is atomic on its own: it runs without the BEGIN and COMMIT round trips. */
  writeStatement<T>(statement: (db: Db) => Promise<T>): Promise<T> {
    return statement(this.db);
  }

  async onWake(listener: () => void): Promise<() => void> {
    this.wakeups.on("wake", listener);
    if (!this.listener) {
      this.listener = new pg.Client({ connectionString: this.url });
      this.listener.on("notification", () => this.wakeups.emit("wake"));
      this.listener.on("error", () => undefined);
      await this.listener.connect();
      await this.listener.query(`LISTEN ${WAKE_CHANNEL}`);
    }
    return () => this.wakeups.off("wake", listener);
  }

  /** Autovacuum marks deleted rows' space free for the table's new rows; the files keep their size. */
  async releaseFreeSpace(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    await this.listener?.end().catch(() => undefined);
    await this.db.destroy();
  }
}
