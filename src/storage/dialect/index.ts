import { PostgresAdapter } from "kysely";
import type { Logger } from "pino";
import { isPostgresUnavailable, PostgresConnection, postgresDialect, type PostgresOptions } from "./postgres.ts";
import { isSqliteUnavailable, SqliteConnection, sqliteDialect, type SqliteOptions } from "./sqlite.ts";
import type { Connection, Db, SqlDialect } from "./types.ts";

export type { Connection, Db, PlannedInserts, SqlDialect, Tx, UnitOfWork } from "./types.ts";
export type { SqliteBackup, SqliteOptions } from "./sqlite.ts";
export { backupSqliteFile } from "./sqlite.ts";
export type { PostgresOptions } from "./postgres.ts";

/** The SQLite file a database URL names (`:memory:` for none), or null for PostgreSQL. */
export function sqliteFileOf(databaseUrl: string): string | null {
  return /^postgres(ql)?:\/\//.test(databaseUrl) ? null : databaseUrl.replace(/^sqlite:/, "");
}

/**
 * Connects to the database a URL names: `postgres://…` or `postgresql://…`, else a SQLite file (`sqlite:` optional).
 * `log` hears of PostgreSQL connections that break and of the wake-up connection's reconnects.
 */
export function connect(databaseUrl: string, options: { sqlite: SqliteOptions; postgres: PostgresOptions }, log?: Logger): Connection {
  const path = sqliteFileOf(databaseUrl);
  return path === null ? new PostgresConnection(databaseUrl, options.postgres, log) : new SqliteConnection(path, options.sqlite);
}

/**
 * Whether an error means the database is unavailable for now, so the same
 * work may succeed once it is back: PostgreSQL unreachable, restarting or
 * refusing connections; SQLite's write lock held past its timeout, its disk
 * full, or its file failing to read or write. Looks through `cause` and the
 * errors an AggregateError gathers (a connection tried on several addresses).
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== "object" || error === null || depth > 4) return false;
  if (isPostgresUnavailable(error) || isSqliteUnavailable(error)) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable((error as { cause?: unknown }).cause, depth + 1);
}

/** The dialect of a handle, for storage operations that hold only a handle or a transaction. */
export function dialectOf(db: Db): SqlDialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? postgresDialect : sqliteDialect;
}
