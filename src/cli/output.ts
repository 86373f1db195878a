import { Option } from "commander";

/**
 * Lists print a table for people by default; `--json` prints what the API
 * would answer, for scripts, or the table's fields for a list no API serves.
 */
export const jsonOption = (what = "what the API answers") => new Option("--json", `print JSON (${what}) instead of a table`);

export const printJson = (value: unknown) => console.log(JSON.stringify(value, null, 2));

/** How a list shows its rows: a heading and a cell per column. */
export type Columns<T> = Record<string, (row: T) => string | number | boolean | null | undefined>;

const CELL_WIDTH = 60;

/** A cell on one line and at most CELL_WIDTH characters: a table is for reading, the JSON has everything. */
function cell(value: string | number | boolean | null | undefined): string {
  const text = value === null || value === undefined || value === "" ? "-" : String(value).replace(/\s+/g, " ");
  return text.length > CELL_WIDTH ? `${text.slice(0, CELL_WIDTH - 1)}…` : text;
}

/** Rows as an aligned table with a heading line, or "(none)". */
export function formatTable<T>(rows: readonly T[], columns: Columns<T>): string {
  if (rows.length === 0) return "(none)";
  const headings = Object.keys(columns);
  const lines = [headings, ...rows.map((row) => Object.values(columns).map((column) => cell(column(row))))];
  const widths = headings.map((_, index) => Math.max(...lines.map((line) => line[index]!.length)));
  return lines.map((line) => line.map((text, index) => (index === line.length - 1 ? text : text.padEnd(widths[index]!))).join("  ")).join("\n");
}

/**
 * Prints a list: `answer` as JSON with `--json`, else its rows as a table,
 * and `more` (how to get the next page) on standard error when there is one.
 */
export function printList<T>(options: { json?: boolean }, answer: unknown, rows: readonly T[], columns: Columns<T>, more?: string): void {
  if (options.json) return printJson(answer);
  console.log(formatTable(rows, columns));
  if (more !== undefined) console.error(more);
}
