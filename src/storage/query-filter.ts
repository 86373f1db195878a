import { sql, type Expression, type ExpressionBuilder, type SqlBool } from "kysely";

/** The comparisons of Codat's query language: `=`, `!=`, `~` (contains), `>`, `<`, `>=` and `<=`. */
export type Operator = "=" | "!=" | "~" | ">" | "<" | ">=" | "<=";

/** One `key op value` of a list's query; each list says what its keys mean in SQL. */
export interface Condition<Key extends string = string> {
  key: Key;
  operator: Operator;
  value: string;
}

/** A parsed query: alternatives (joined by `||`) of conditions that must all hold (joined by `&&`). Empty for no query. */
export type Filter<Key extends string = string> = ReadonlyArray<ReadonlyArray<Condition<Key>>>;

/** How a list is ordered: one of the columns it allows, then its rows' ids. */
export interface ListOrder<Column extends string> {
  column: Column;
  direction: "asc" | "desc";
}

/** Applies `operator` to a column or expression, the way every list compares values. */
export function compare<DB, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  left: Expression<unknown> | string,
  operator: Operator,
  value: string | number,
): Expression<SqlBool> {
  const lhs = typeof left === "string" ? eb.ref(left as never) : left;
  if (operator === "~") {
    // Contains, ignoring case, with `%` and `_` taken literally: the same on SQLite (whose LIKE
    // ignores ASCII case) and PostgreSQL (whose LIKE does not).
    const pattern = `%${String(value)
      .toLowerCase()
      .replace(/[\\%_]/g, "\\$&")}%`;
    return sql<SqlBool>`lower(${lhs}) like ${pattern} escape '\\'`;
  }
  return eb(lhs as never, operator === "!=" ? "<>" : operator, value as never);
}

/** The WHERE expression of a filter given how each condition maps to SQL; undefined for an empty filter. */
export function whereFilter<DB, TB extends keyof DB, Key extends string>(
  filter: Filter<Key>,
  condition: (eb: ExpressionBuilder<DB, TB>, condition: Condition<Key>) => Expression<SqlBool>,
): ((eb: ExpressionBuilder<DB, TB>) => Expression<SqlBool>) | undefined {
  if (filter.length === 0) return undefined;
  return (eb) => eb.or(filter.map((all) => eb.and(all.map((part) => condition(eb, part)))));
}
