import type { Logger } from "pino";
import { connect, type Connection, type Db, type PlannedInserts, type SqlDialect, type UnitOfWork } from "./dialect/index.ts";
import { migratorOf } from "./migrations/index.ts";

export type { Db, PlannedInserts, Tx, UnitOfWork, SqlDialect } from "./dialect/index.ts";
export { isDatabaseUnavailable, sqliteFileOf } from "./dialect/index.ts";

export interface StoreOptions {
  /**
   * SQLite's `synchronous` in WAL mode: NORMAL survives a crash of the process
   * but may lose the last commits to a power loss; FULL syncs every commit.
   */
  sqliteSynchronous: "NORMAL" | "FULL";
  /** PostgreSQL's `synchronous_commit` for Hookline's sessions: `off` trades the last commits before a database crash for commit latency. */
  postgresSynchronousCommit: "on" | "off";
  /** Hears of PostgreSQL connections that break and come back (a warning per burst, never the URL). */
  logger?: Logger;
}

/** The database: a handle for reads, transactions for writes, and the wake-up of workers after commits that made work. */
export class Store {
  private constructor(private readonly connection: Connection) {}

  static async open(databaseUrl: string, options: StoreOptions = { sqliteSynchronous: "NORMAL", postgresSynchronousCommit: "on" }): Promise<Store> {
    return new Store(
      connect(
        databaseUrl,
        { sqlite: { synchronous: options.sqliteSynchronous }, postgres: { synchronousCommit: options.postgresSynchronousCommit } },
        options.logger,
      ),
    );
  }

  get db(): Db {
    return this.connection.db;
  }

  get dialect(): SqlDialect {
    return this.connection.dialect;
  }

  /** Whether Hookline's schema is here: some migration ran on this database. */
  async hasSchema(): Promise<boolean> {
    return (await migratorOf(this.db).getMigrations()).some((migration) => migration.executedAt !== undefined);
  }

  async migrate(): Promise<void> {
    const { error } = await migratorOf(this.db).migrateToLatest();
    if (error) throw error;
  }

  /** Runs `work` in one transaction. When it asked for workers to be woken, they are woken once the commit is durable, never before. */
  transaction<T>(work: (uow: UnitOfWork) => Promise<T>): Promise<T> {
    return this.connection.transaction(work);
  }

  /**
   * Runs `plan`, which only reads, then inserts the rows it decided on, all or
   * none, waking workers once they are committed when it asked: on SQLite in
   * one write transaction, on PostgreSQL as one statement after the reads.
   */
  insertAfterReads<T>(plan: (db: Db) => Promise<PlannedInserts<T>>): Promise<T> {
    return this.connection.insertAfterReads(plan);
  }

  /**
   * Runs one statement that writes: on PostgreSQL without a transaction around
   * it, on SQLite in one all the same, to take the write lock without blocking the event loop.
   */
  writeStatement<T>(statement: (db: Db) => Promise<T>): Promise<T> {
    return this.connection.writeStatement(statement);
  }

  /** Calls `listener` whenever new deliveries were committed by any process sharing this database. */
  onWake(listener: () => void): Promise<() => void> {
    return this.connection.onWake(listener);
  }

  /**
   * Gives the space of deleted rows back to the file system where the
   * database does so (SQLite); returns the bytes given back.
   */
  releaseFreeSpace(): Promise<number> {
    return this.connection.releaseFreeSpace();
  }

  /** Whether the database reuses the space of the rows retention deletes (PostgreSQL: autovacuum on). */
  reclaimsDeletedRows(): Promise<boolean> {
    return this.connection.reclaimsDeletedRows();
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
