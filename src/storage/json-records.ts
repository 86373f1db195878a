import { sql, type Insertable, type Kysely, type RawBuilder } from "kysely";
import { dialectOf } from "./database.ts";
import type { Database } from "./schema.ts";

/**
 * Rows of a table passed to the database as one JSON parameter, for the
 * bulk writes on the delivery path. The statement's text is the same whatever
 * the number of rows, so it is prepared once, and the database parses the
 * rows in C instead of binding thousands of parameters: on PostgreSQL that
 * halves the cost of a batch's writes. PostgreSQL types the fields by the
 * table's own columns; SQLite reads them as JSON gives them, each row an
 * array of `columns`' values.
 * `alias` and the column names are Hookline's constants, never input.
 */
export function jsonRecords<Table extends keyof Database>(
  db: Kysely<Database>,
  table: Table,
  rows: readonly object[],
  alias: string,
  columns: ReadonlyArray<keyof Database[Table] & string>,
): RawBuilder<unknown> {
  if (dialectOf(db) === "postgres") {
    return sql`json_populate_recordset(NULL::${sql.raw(table)}, CAST(${JSON.stringify(rows)} AS json)) AS ${sql.raw(alias)}`;
  }
  // SQLite reads a field by position faster than by name (a third of a batch's insert): each row goes as an array.
  const json = JSON.stringify(rows.map((row) => columns.map((column) => (row as Record<string, unknown>)[column])));
  return sql`(SELECT ${sql.raw(columns.map((column, index) => `value ->> ${index} AS ${column}`).join(", "))} FROM json_each(${json})) AS ${sql.raw(alias)}`;
}

/** Inserts rows that all have the same fields with one statement, whatever their number. */
export async function insertRecords<Table extends keyof Database>(
  db: Kysely<Database>,
  table: Table,
  rows: ReadonlyArray<Insertable<Database[Table]>>,
): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!) as Array<keyof Database[Table] & string>;
  const list = sql.raw(columns.join(", "));
  await sql`INSERT INTO ${sql.raw(table)} (${list}) SELECT ${list} FROM ${jsonRecords(db, table, rows, "inserted", columns)}`.execute(db);
}
