import assert from "node:assert/strict";
import { test } from "node:test";
import { parseQuery } from "../src/domain/query.ts";
import { HooklineError } from "../src/errors.ts";

// Large enough that a parser that backtracks over whitespace (as a regular expression once did) would not finish the suite.
const HUGE = 200_000;
const spaces = (count: number) => " ".repeat(count);

test("conditions padded with hundreds of thousands of spaces parse to the same key, operator and value", () => {
  assert.deepEqual(parseQuery(`${spaces(HUGE)}region${spaces(HUGE)}!=${spaces(HUGE)}uk${spaces(HUGE)}`), [[{ key: "region", operator: "!=", value: "uk" }]]);
  assert.deepEqual(parseQuery(`name ~ a${spaces(HUGE)}b${spaces(HUGE)}&& id = 1`), [
    [
      { key: "name", operator: "~", value: `a${spaces(HUGE)}b` },
      { key: "id", operator: "=", value: "1" },
    ],
  ]);
});

test("a huge value without an operator, or a key followed by spaces and nothing else, is refused", () => {
  for (const query of [`region${spaces(HUGE)}uk`, `region =${spaces(HUGE)}`, `${spaces(HUGE)}= uk`, `${"a".repeat(HUGE)}${spaces(HUGE)}`]) {
    assert.throws(
      () => parseQuery(query),
      (error: unknown) => error instanceof HooklineError && error.statusCode === 400 && /Malformed query/.test(error.message),
    );
  }
});

test("the language reads as before: operators, quotes, alternatives", () => {
  assert.deepEqual(parseQuery("a>=1||b<=2&&c!=3"), [
    [{ key: "a", operator: ">=", value: "1" }],
    [
      { key: "b", operator: "<=", value: "2" },
      { key: "c", operator: "!=", value: "3" },
    ],
  ]);
  assert.deepEqual(parseQuery(`owningTeam = "invoice finance" || x~'y'`), [
    [{ key: "owningTeam", operator: "=", value: "invoice finance" }],
    [{ key: "x", operator: "~", value: "y" }],
  ]);
  // `>` followed by a value that starts with `=` is `>=`; a value may hold operators.
  assert.deepEqual(parseQuery("a>==b"), [[{ key: "a", operator: ">=", value: "=b" }]]);
  assert.deepEqual(parseQuery("a=b=c"), [[{ key: "a", operator: "=", value: "b=c" }]]);
  for (const query of ["a", "= b", "a =", "a b = c", "a = b\nc", "é = 1"]) assert.throws(() => parseQuery(query), HooklineError, query);
});
