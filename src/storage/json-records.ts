import type { Insertable } from "kysely";
import { dialectOf, type Db } from "./dialect/index.ts";
import { insertStatement, type TableRows } from "./dialect/insert.ts";
import type { Database } from "./schema.ts";

/**
 * Rows of a table passed to the database as one JSON parameter, for the
 * bulk writes on the delivery path. The statement's text is the same whatever
 * the number of rows, so it is prepared once, and the database parses the
 * rows in C instead of binding thousands of parameters: on PostgreSQL that
 * halves the cost of a batch's writes.
 */
export function jsonRecords<Table extends keyof Database>(
  db: Db,
  table: Table,
  rows: readonly object[],
  alias: string,
  columns: ReadonlyArray<keyof Database[Table] & string>,
) {
  return dialectOf(db).jsonRecords(table, rows, alias, columns);
}

/**
 * Inserts rows that all have the same fields with one statement, whatever
 * their number, and returns how many it inserted. With `skipConflictsOn`, a
 * row whose values in those (uniquely indexed) columns a row of the table
 * already holds is skipped instead of failing the statement.
 */
export async function insertRecords<Table extends keyof Database>(
  db: Db,
  table: Table,
  rows: ReadonlyArray<Insertable<Database[Table]>>,
  skipConflictsOn?: ReadonlyArray<keyof Database[Table] & string>,
): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await insertStatement(dialectOf(db), { table, rows } as TableRows, skipConflictsOn).execute(db);
  return Number(result.numAffectedRows ?? 0);
}
