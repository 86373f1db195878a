/**
 * Codat's query language for list endpoints: `key op value` conditions joined
 * by `&&` (all) or `||` (any), with the operators `=`, `!=`, `~` (contains),
 * `>`, `<`, `>=` and `<=`. This is its parser; each list's storage says what
 * a key means in SQL (storage/query-filter.ts).
 */
import { badRequest } from "../errors.ts";
import type { Condition, Filter, Operator } from "../storage/query-filter.ts";

export type { Condition, Filter, Operator } from "../storage/query-filter.ts";

/**
 * Each condition becomes an expression (a subquery for tags): past a few
 * dozen, SQLite refuses the expression depth and PostgreSQL spends minutes
 * planning, so a query holds at most this many.
 */
export const MAX_CONDITIONS = 20;

/** A list's filter: no condition for an absent or blank query, else the parsed query. */
export function parseFilter(query: string | undefined): Filter {
  return !query || query.trim() === "" ? [] : parseQuery(query);
}

/** Parses a query into alternatives (joined by `||`) of conditions that must all hold (joined by `&&`). */
export function parseQuery(query: string): Condition[][] {
  const count = query.split("||").reduce((sum, alternative) => sum + alternative.split("&&").length, 0);
  if (count > MAX_CONDITIONS) throw malformed(query, `${count} conditions; at most ${MAX_CONDITIONS} are allowed`);
  return query.split("||").map((alternative) =>
    alternative.split("&&").map((part) => {
      const condition = parseCondition(part.trim());
      if (!condition) throw malformed(query, `"${part.trim()}" is not of the form key operator value`);
      return condition;
    }),
  );
}

const KEY_CHARACTER = /[A-Za-z0-9_.-]/;
const WHITESPACE = /\s/;
// Two-character operators first, so `>=` is not read as `>` followed by a value starting with `=`.
const OPERATORS: readonly Operator[] = ["!=", ">=", "<=", "=", "~", ">", "<"];

/**
 * One trimmed `key op value`, read in a single pass from left to right: no
 * regular expression over the whole text, since one with a lazy group before
 * trailing whitespace backtracks quadratically on a value of many spaces.
 */
function parseCondition(text: string): Condition | undefined {
  let index = 0;
  while (index < text.length && KEY_CHARACTER.test(text[index]!)) index++;
  const key = text.slice(0, index);
  while (index < text.length && WHITESPACE.test(text[index]!)) index++;
  const operator = OPERATORS.find((candidate) => text.startsWith(candidate, index));
  if (key === "" || !operator) return undefined;
  const value = text.slice(index + operator.length).trimStart();
  // A value is one line, as it always was.
  if (value === "" || /[\n\r\u2028\u2029]/.test(value)) return undefined;
  return { key, operator, value: unquote(value) };
}

function unquote(value: string): string {
  const quote = value[0];
  return value.length >= 2 && (quote === "'" || quote === '"') && value.endsWith(quote) ? value.slice(1, -1) : value;
}

export function malformed(query: string, reason: string) {
  return badRequest(`Malformed query: ${reason}`, [{ itemId: "query", message: `Could not parse "${query}"`, validatorName: "query" }]);
}

/** Parses `orderBy` (`field` or `-field`) against the fields a resource allows. */
export function parseOrderBy<F extends string>(orderBy: string | undefined, allowed: Record<string, F>, fallback: F): { column: F; direction: "asc" | "desc" } {
  if (!orderBy) return { column: fallback, direction: "asc" };
  const descending = orderBy.startsWith("-");
  const field = descending ? orderBy.slice(1) : orderBy;
  // Own keys only: "constructor" or "__proto__" must not resolve to something inherited from Object.
  const column = Object.hasOwn(allowed, field) ? allowed[field] : undefined;
  if (!column) throw badRequest(`Cannot order by "${orderBy}": use one of ${Object.keys(allowed).join(", ")} (prefix - for descending)`);
  return { column, direction: descending ? "desc" : "asc" };
}
