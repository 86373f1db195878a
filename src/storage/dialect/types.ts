import type { Kysely, RawBuilder, SelectQueryBuilder } from "kysely";
import type { Database } from "../schema.ts";
import type { TableRows } from "./insert.ts";

/** A database handle outside any transaction. */
export type Db = Kysely<Database>;

declare const inTransaction: unique symbol;
/**
 * A database handle inside a transaction. Only the Store makes one, so a
 * storage operation that must run in a transaction says so by taking a `Tx`,
 * and handing it a plain `Db` fails to compile.
 */
export type Tx = Db & { readonly [inTransaction]: true };

/** One transaction's work: its handle, and the wake-up of delivery workers that runs once it has committed. */
export interface UnitOfWork {
  readonly tx: Tx;
  /** Asks for delivery workers to be woken once the transaction commits (never before: they would find nothing). */
  wakeWorkers(): void;
}

/**
 * What differs between SQLite and PostgreSQL, and the only place that knows
 * which one a handle talks to. Storage operations write one statement for
 * both and ask the dialect for the parts that differ.
 */
export interface SqlDialect {
  readonly name: "sqlite" | "postgres";
  /**
   * Locks the rows a query selects until the transaction ends. On SQLite the
   * write transaction already excludes every other writer, so it is the query as it is.
   */
  lockRows<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O>;
  /** Like lockRows, but passes over rows another transaction holds: for claiming work that several workers share. */
  claimRows<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O>;
  /**
   * Rows of a table passed to the database as one JSON parameter, usable as a
   * FROM item named `alias` with `columns`. `alias` and the column names are
   * Hookline's constants, never input.
   */
  jsonRecords<Table extends keyof Database>(
    table: Table,
    rows: readonly object[],
    alias: string,
    columns: ReadonlyArray<keyof Database[Table] & string>,
  ): RawBuilder<unknown>;
  /**
   * For a migration: has the database's own clean-up visit `table` once
   * `fraction` of its rows were updated or deleted. PostgreSQL's autovacuum
   * waits for 20% by default; SQLite reuses a deleted row's space at once and
   * has nothing to set.
   */
  vacuumAfterChurn(db: Kysely<unknown>, table: keyof Database & string, fraction: number): Promise<void>;
}

/** What the reads of Connection.insertAfterReads decided: the rows to insert, whether to wake workers once they are committed, and the answer. */
export interface PlannedInserts<T> {
  /** In order: a row may refer to a row of an earlier entry. */
  inserts: readonly TableRows[];
  wake: boolean;
  value: T;
}

/** A dialect plus a connection to one database: transactions, and how writers wake workers. */
export interface Connection {
  readonly db: Db;
  readonly dialect: SqlDialect;
  /** Runs `work` in one transaction; wakes workers once it has committed when `work` asked for it. */
  transaction<T>(work: (uow: UnitOfWork) => Promise<T>): Promise<T>;
  /**
   * Runs `plan`, which only reads, then inserts the rows it decided on, all
   * or none, and wakes workers once they are committed when it asked. For
   * the hot write of the API, a publish: see the dialects for how each makes
   * it cheap.
   */
  insertAfterReads<T>(plan: (db: Db) => Promise<PlannedInserts<T>>): Promise<T>;
  /** Runs one statement that writes, as cheaply as the database allows it to run atomically. */
  writeStatement<T>(statement: (db: Db) => Promise<T>): Promise<T>;
  /** Calls `listener` whenever new deliveries were committed by any process sharing this database. */
  onWake(listener: () => void): Promise<() => void>;
  /**
   * Gives the space of deleted rows back to the file system, in short write
   * transactions, after the retention job deleted rows. Returns the bytes
   * given back: SQLite's free pages (on a file made with incremental
   * auto-vacuum); 0 on PostgreSQL, whose autovacuum makes the space reusable
   * in place.
   */
  releaseFreeSpace(): Promise<number>;
  /**
   * Whether the space of deleted rows is ever reused: always on SQLite (its free pages); on
   * PostgreSQL only while the server's autovacuum is on, since Hookline runs no VACUUM itself.
   */
  reclaimsDeletedRows(): Promise<boolean>;
  close(): Promise<void>;
}
