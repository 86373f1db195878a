import { PostgresAdapter } from "kysely";
import { PostgresConnection, postgresDialect, type PostgresOptions } from "./postgres.ts";
import { SqliteConnection, sqliteDialect, type SqliteOptions } from "./sqlite.ts";
import type { Connection, Db, SqlDialect } from "./types.ts";

export type { Connection, Db, SqlDialect, Tx, UnitOfWork } from "./types.ts";
export type { SqliteBackup, SqliteOptions } from "./sqlite.ts";
export { backupSqliteFile } from "./sqlite.ts";
export type { PostgresOptions } from "./postgres.ts";

/** The SQLite file a database URL names (`:memory:` for none), or null for PostgreSQL. */
export function sqliteFileOf(databaseUrl: string): string | null {
  return /^postgres(ql)?:\/\//.test(databaseUrl) ? null : databaseUrl.replace(/^sqlite:/, "");
}

/** Connects to the database a URL names: `postgres://…` or `postgresql://…`, else a SQLite file (`sqlite:` optional). */
export function connect(databaseUrl: string, options: { sqlite: SqliteOptions; postgres: PostgresOptions }): Connection {
  const path = sqliteFileOf(databaseUrl);
  return path === null ? new PostgresConnection(databaseUrl, options.postgres) : new SqliteConnection(path, options.sqlite);
}

/** The dialect of a handle, for storage operations that hold only a handle or a transaction. */
export function dialectOf(db: Db): SqlDialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? postgresDialect : sqliteDialect;
}
