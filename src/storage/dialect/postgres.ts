import { EventEmitter } from "node:events";
import pg from "pg";
import { Kysely, PostgresDialect, sql } from "kysely";
import type { Logger } from "pino";
import type { Database } from "../schema.ts";
import { insertStatement, type TableRows } from "./insert.ts";
import type { Connection, Db, PlannedInserts, SqlDialect, Tx, UnitOfWork } from "./types.ts";

const WAKE_CHANNEL = "hookline_deliveries";
/**
 * How long opening a connection (or waiting for one of the pool's) may take
 * before the statement fails: a server that is away, or a network that drops
 * packets, fails requests in bounded time (503) instead of holding them.
 */
export const CONNECT_TIMEOUT_MS = 5000;
/** The pauses between tries to reconnect the LISTEN connection: doubling from the first, at most the last. */
const LISTEN_RETRY_FIRST_MS = 100;
const LISTEN_RETRY_MAX_MS = 5000;
/** Connection errors come in bursts (a restart drops every pooled connection at once): one warning per burst, a burst ending after this long without one. */
const ERROR_BURST_QUIET_MS = 30_000;

/** Node's errors for a server that cannot be reached or dropped the connection. */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/**
 * SQLSTATEs of a server going away or not taking connections: admin_shutdown,
 * crash_shutdown, cannot_connect_now (starting up or shutting down),
 * too_many_connections; class 08 (connection exceptions) is matched whole.
 */
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);
/** What node-postgres says, without a code, of a connection that ended, timed out or broke. */
const UNAVAILABLE_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/;

/** Whether an error says the PostgreSQL server is unreachable or away (rather than that a statement is wrong). */
export function isPostgresUnavailable(error: object): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === "string" && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  return typeof message === "string" && UNAVAILABLE_MESSAGES.test(message);
}

/** What a log line may say of a connection error: its code and message, never the client it carries (whose settings hold the password). */
const describe = (error: Error) => ({ code: (error as { code?: unknown }).code, message: error.message });

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

/**
 * One statement that inserts rows into several tables, each insert a
 * data-modifying CTE, and wakes workers with pg_notify, delivered when the
 * statement commits. The foreign keys are checked at the end of the
 * statement, so a row may refer to a row another CTE inserts.
 */
function insertTogether(inserts: readonly TableRows[], wake: boolean) {
  // The rows for one table, from however many inserts a group commit gathered, go in one CTE: one JSON parameter each.
  const tables = new Map<TableRows["table"], object[]>();
  for (const { table, rows } of inserts) if (rows.length > 0) tables.set(table, [...(tables.get(table) ?? []), ...rows]);
  const steps = [...tables].map(
    ([table, rows], index) => sql`${sql.raw(`inserted_${index}`)} AS (${insertStatement(postgresDialect, { table, rows } as TableRows)})`,
  );
  const answer = wake ? sql`SELECT pg_notify(${WAKE_CHANNEL}, '')` : sql`SELECT 1`;
  return steps.length === 0 ? answer : sql`WITH ${sql.join(steps)} ${answer}`;
}

export interface PostgresOptions {
  /**
   * PostgreSQL's `synchronous_commit` for Hookline's sessions. `off` answers a
   * commit before its WAL record is flushed: a crash of the database server
   * (not of Hookline) may lose the last few hundred milliseconds of commits,
   * but nothing is ever left half-written.
   */
  synchronousCommit: "on" | "off";
}

/**
 * PostgreSQL: a pool of connections, and LISTEN/NOTIFY so that workers in
 * other processes hear of new deliveries. Both outlive a restart of the
 * server: the pool drops broken connections and opens new ones, statements
 * fail meanwhile (isDatabaseUnavailable), and the LISTEN connection is opened
 * again with a growing pause, waking the workers once it is back.
 */
export class PostgresConnection implements Connection {
  readonly dialect = postgresDialect;
  readonly db: Db;
  private readonly wakeups = new EventEmitter();
  private readonly log: Logger | undefined;
  /** The LISTEN connection while it is up, and the try under way to open it. */
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
  private closed = false;
  private lastConnectionError = -Infinity;
  /** Inserts waiting for the insert statement under way to end, to be written together in the next one (insertWaiting). */
  private waitingInserts: Array<{ inserts: readonly TableRows[]; wake: boolean; resolve: () => void; reject: (error: unknown) => void }> = [];
  private inserting = false;

  constructor(
    private readonly url: string,
    options: PostgresOptions,
    log?: Logger,
  ) {
    this.log = log?.child({ component: "database" });
    // int8 columns hold epoch milliseconds, well inside Number's exact range.
    pg.types.setTypeParser(pg.types.builtins.INT8, Number);
    const pool = new pg.Pool({
      connectionString: url,
      max: 10,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      options: `-c synchronous_commit=${options.synchronousCommit}`,
    });
    // An idle connection that breaks (the server restarted) is dropped by the pool, which then emits
    // 'error': unheard, that would end the process. A connection in use that breaks between two
    // statements emits 'error' itself; its next statement fails and the pool drops it when released.
    pool.on("error", (error) => this.connectionFailed(error));
    pool.on("connect", (client) => client.on("error", (error) => this.connectionFailed(error)));
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

  /**
   * The reads run outside any transaction: at READ COMMITTED each statement
   * of a transaction sees the latest commits all the same, and the reads lock
   * nothing. The inserts and the NOTIFY are then one statement, atomic and
   * committed on its own: one round trip where a transaction takes BEGIN, a
   * statement per table, NOTIFY and COMMIT.
   */
  async insertAfterReads<T>(plan: (db: Db) => Promise<PlannedInserts<T>>): Promise<T> {
    const { inserts, wake, value } = await plan(this.db);
    // Nothing to write (a plan that writes in a transaction of its own): no statement, no round trip.
    if (!wake && inserts.every(({ rows }) => rows.length === 0)) return value;
    await new Promise<void>((resolve, reject) => {
      this.waitingInserts.push({ inserts, wake, resolve, reject });
      if (!this.inserting) void this.insertWaiting();
    });
    return value;
  }

  /**
   * Group commit: one insert statement at a time, and the inserts that
   * arrive while it runs wait for it to end and are then written together,
   * in one statement and one commit. A lone insert never waits. When the
   * statement of a group fails, each of its inserts is tried again on its
   * own, so one that cannot be written (a foreign key gone meanwhile) fails
   * alone and the others are written.
   */
  private async insertWaiting(): Promise<void> {
    this.inserting = true;
    while (this.waitingInserts.length > 0) {
      const group = this.waitingInserts.splice(0);
      try {
        await insertTogether(
          group.flatMap((waiting) => waiting.inserts),
          group.some((waiting) => waiting.wake),
        ).execute(this.db);
        for (const waiting of group) waiting.resolve();
      } catch (error) {
        if (group.length === 1) group[0]!.reject(error);
        else
          await Promise.all(
            group.map((waiting) =>
              insertTogether(waiting.inserts, waiting.wake)
                .execute(this.db)
                .then(() => waiting.resolve(), waiting.reject),
            ),
          );
      }
    }
    this.inserting = false;
  }

  /** A statement is atomic on its own: it runs without the BEGIN and COMMIT round trips. */
  writeStatement<T>(statement: (db: Db) => Promise<T>): Promise<T> {
    return statement(this.db);
  }

  /** Resolves once the first try to LISTEN has ended: listening, or (the server away) trying again in the background. */
  async onWake(listener: () => void): Promise<() => void> {
    this.wakeups.on("wake", listener);
    if (this.listening === undefined && this.listener === undefined && this.listenRetry === undefined) this.listen(0);
    await this.listening;
    return () => this.wakeups.off("wake", listener);
  }

  /** Autovacuum marks deleted rows' space free for the table's new rows; the files keep their size. */
  async releaseFreeSpace(): Promise<number> {
    return 0;
  }

  async reclaimsDeletedRows(): Promise<boolean> {
    const { rows } = await sql<{ autovacuum: string }>`SHOW autovacuum`.execute(this.db);
    return rows[0]?.autovacuum === "on";
  }

  /**
   * Opens the LISTEN connection. When it cannot, or once it is lost, it is
   * tried again after a pause that doubles up to LISTEN_RETRY_MAX_MS; workers
   * poll meanwhile. Back after a loss, it wakes the workers once: work may
   * have been committed while nobody listened.
   */
  private listen(retry: number): void {
    if (this.closed) return;
    this.listenRetry = undefined;
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
    let connected = false;
    let lost = false;
    const onLost = (error: Error) => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
      if (this.closed) return;
      if (connected || retry === 0) {
        this.log?.warn({ error: describe(error) }, "lost the database connection that wakes workers; reconnecting, workers poll meanwhile");
      }
      const next = connected ? 1 : retry + 1;
      const pause = Math.min(LISTEN_RETRY_FIRST_MS * 2 ** (next - 1), LISTEN_RETRY_MAX_MS);
      this.listenRetry = setTimeout(() => this.listen(next), pause);
      this.listenRetry.unref();
    };
    client.on("notification", () => this.wakeups.emit("wake"));
    client.on("error", onLost);
    client.on("end", () => onLost(new Error("Connection terminated")));
    this.listening = (async () => {
      try {
        await client.connect();
        await client.query(`LISTEN ${WAKE_CHANNEL}`);
      } catch (error) {
        onLost(error as Error);
        return;
      }
      if (lost) return;
      if (this.closed) {
        await client.end().catch(() => undefined);
        return;
      }
      connected = true;
      this.listener = client;
      if (retry > 0) {
        this.log?.info("reconnected the database connection that wakes workers");
        this.wakeups.emit("wake");
      }
    })().finally(() => (this.listening = undefined));
  }

  /** Warns of a broken connection, once per burst; a restart of the server breaks every pooled one at once. */
  private connectionFailed(error: Error): void {
    const now = Date.now();
    const quiet = now - this.lastConnectionError > ERROR_BURST_QUIET_MS;
    this.lastConnectionError = now;
    if (quiet) this.log?.warn({ error: describe(error) }, "a database connection failed; statements fail until the database answers again");
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.listenRetry);
    await this.listening;
    await this.listener?.end().catch(() => undefined);
    await this.db.destroy();
  }
}
