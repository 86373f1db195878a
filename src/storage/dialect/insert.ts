import { sql, type Insertable, type RawBuilder } from "kysely";
import type { Database } from "../schema.ts";
import type { SqlDialect } from "./types.ts";

/** Rows to insert into one table, all with the same fields. */
export type TableRows = { [Table in keyof Database]: { table: Table; rows: ReadonlyArray<Insertable<Database[Table]>> } }[keyof Database];

/**
 * The statement that inserts rows that all have the same fields, whatever
 * their number, passed as one JSON parameter (SqlDialect.jsonRecords). With
 * `skipConflictsOn`, a row whose values in those (uniquely indexed) columns a
 * row of the table already holds is skipped instead of failing the statement.
 */
export function insertStatement(dialect: SqlDialect, { table, rows }: TableRows, skipConflictsOn?: readonly string[]): RawBuilder<unknown> {
  const columns = Object.keys(rows[0]!) as Array<keyof Database[typeof table] & string>;
  const list = sql.raw(columns.join(", "));
  const records = dialect.jsonRecords(table, rows, "inserted", columns);
  // SQLite reads `ON` after a FROM as a join's unless a WHERE comes between them.
  return skipConflictsOn === undefined
    ? sql`INSERT INTO ${sql.raw(table)} (${list}) SELECT ${list} FROM ${records}`
    : sql`INSERT INTO ${sql.raw(table)} (${list}) SELECT ${list} FROM ${records} WHERE true ON CONFLICT (${sql.raw(skipConflictsOn.join(", "))}) DO NOTHING`;
}
