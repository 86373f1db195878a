import { sql, type RawBuilder } from "kysely";
import type { Dialect } from "./database.ts";

/** The SQL types a JSON record's fields are read as. */
export type RecordColumnType = "text" | "integer" | "bigint";

/**
 * A batch of rows as a table in FROM, passed as one JSON parameter: the
 * statement's text is the same whatever the batch size, so it is prepared
 * once, and the database parses the rows in C instead of binding thousands of
 * parameters (on PostgreSQL this halves the cost of recording a batch).
 * `alias` and the column names are Hookline's own constants, never input.
 */
export function jsonRecords<Row extends object>(
  dialect: Dialect,
  rows: readonly Row[],
  alias: string,
  columns: { readonly [Column in keyof Row & string]: RecordColumnType },
): RawBuilder<unknown> {
  const json = JSON.stringify(rows);
  const entries = Object.entries(columns) as Array<[string, RecordColumnType]>;
  if (dialect === "postgres") {
    return sql`json_to_recordset(CAST(${json} AS json)) AS ${sql.raw(alias)}(${sql.raw(entries.map(([name, type]) => `${name} ${type}`).join(", "))})`;
  }
  return sql`(SELECT ${sql.raw(entries.map(([name]) => `value ->> '${name}' AS ${name}`).join(", "))} FROM json_each(${json})) AS ${sql.raw(alias)}`;
}

/** The column list of a jsonRecords table, for INSERT ... SELECT. */
export function recordColumnList(columns: Readonly<Record<string, RecordColumnType>>): RawBuilder<unknown> {
  return sql.raw(Object.keys(columns).join(", "));
}
