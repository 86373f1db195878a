import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MAX_CONDITIONS, parseFilter, parseOrderBy, parseQuery, type Condition } from "../../src/domain/query.ts";
import { HooklineError } from "../../src/errors.ts";

interface Company {
  name: string;
  tags: Record<string, string>;
}

const companies: Company[] = [
  { name: "Acme", tags: { region: "eu" } },
  { name: "Beta", tags: { region: "us" } },
  { name: "Beta", tags: { region: "eu" } },
  { name: "Gamma Ltd", tags: {} },
];

/**
 * A model of how a resource applies a parsed query, for the equality and
 * contains operators on names and tags: any alternative whose conditions all
 * hold. What the parser decides (grouping, operators, values) decides the result.
 */
function holds(company: Company, { key, operator, value }: Condition): boolean {
  const field = key === "name" ? company.name : key.startsWith("tags.") ? company.tags[key.slice(5)] : undefined;
  if (field === undefined) return operator === "!=";
  if (operator === "=") return field === value;
  if (operator === "!=") return field !== value;
  if (operator === "~") return field.toLowerCase().includes(value.toLowerCase());
  throw new Error(`the model has no ${operator}`);
}
const matching = (query: string) =>
  companies
    .filter((company) => parseQuery(query).some((all) => all.every((condition) => holds(company, condition))))
    .map((company) => `${company.name}/${company.tags.region ?? "-"}`);

/** The 400 a malformed query answers, as the client sees it. */
function malformedError(query: string): { message: string; validation: unknown } {
  try {
    parseQuery(query);
  } catch (error) {
    assert.ok(error instanceof HooklineError, "a HooklineError");
    assert.equal(error.statusCode, 400);
    return { message: error.message, validation: error.validationErrors };
  }
  assert.fail(`"${query}" parsed`);
}

describe("query language parser", () => {
  test("a condition is key, operator and value", () => {
    assert.deepEqual(parseQuery("name = Acme"), [[{ key: "name", operator: "=", value: "Acme" }]]);
    assert.deepEqual(matching("name = Acme"), ["Acme/eu"]);
  });

  test("&& binds tighter than ||", () => {
    assert.deepEqual(matching("name = Acme || name = Beta && tags.region = us"), ["Acme/eu", "Beta/us"]);
    assert.deepEqual(matching("tags.region = eu && name != Acme || name ~ ltd"), ["Beta/eu", "Gamma Ltd/-"]);
  });

  test("two-character operators are read whole, with or without spaces", () => {
    assert.deepEqual(parseQuery("createdAt>=2024-05-01"), [[{ key: "createdAt", operator: ">=", value: "2024-05-01" }]]);
    assert.deepEqual(parseQuery("createdAt <= 2024-05-01"), [[{ key: "createdAt", operator: "<=", value: "2024-05-01" }]]);
    assert.deepEqual(parseQuery("name!=Acme"), [[{ key: "name", operator: "!=", value: "Acme" }]]);
    assert.deepEqual(matching("name!=Acme"), ["Beta/us", "Beta/eu", "Gamma Ltd/-"]);
  });

  test("every operator, one character or two", () => {
    for (const operator of ["=", "!=", "~", ">", "<", ">=", "<="]) {
      assert.deepEqual(parseQuery(`amount${operator}5`), [[{ key: "amount", operator, value: "5" }]], operator);
      assert.deepEqual(parseQuery(`amount ${operator} 5`), [[{ key: "amount", operator, value: "5" }]], operator);
    }
  });

  test("values are trimmed, may hold operator characters, and lose the quotes around them", () => {
    assert.deepEqual(parseQuery("   name   ~   gamma  "), [[{ key: "name", operator: "~", value: "gamma" }]]);
    assert.deepEqual(parseQuery("name = a=b"), [[{ key: "name", operator: "=", value: "a=b" }]]);
    assert.deepEqual(matching('name = "Gamma Ltd"'), ["Gamma Ltd/-"]);
    assert.deepEqual(matching("name = 'Beta' && tags.region = 'eu'"), ["Beta/eu"]);
    assert.deepEqual(parseQuery('name = "Gamma')[0]![0]!.value, '"Gamma', "an unmatched quote is part of the value");
  });

  test("only a matching pair of quotes is taken off", () => {
    const valueOf = (query: string) => parseQuery(query)[0]![0]!.value;
    assert.equal(valueOf('name = ""'), "", "an empty quoted value");
    assert.equal(valueOf("name = ''"), "");
    assert.equal(valueOf('name = "'), '"', "a lone quote is the value");
    assert.equal(valueOf("name = '"), "'");
    assert.equal(valueOf("name = 'Gamma\""), "'Gamma\"", "quotes of two kinds");
    assert.equal(valueOf("name = abca"), "abca", "a value starting and ending with the same letter");
    assert.equal(valueOf("name = a"), "a");
  });

  test("a part that is not key operator value is reported with the whole query", () => {
    for (const [query, part] of [
      ["name", "name"],
      ["= Acme", "= Acme"],
      ["name =", "name ="],
      ["name = Acme &&", ""],
      ["|| name = Acme", ""],
      ["na me = Acme", "na me = Acme"],
      ["name = Acme\nBeta", "name = Acme\nBeta"],
    ]) {
      assert.deepEqual(malformedError(query!), {
        message: `Malformed query: "${part}" is not of the form key operator value`,
        validation: [{ itemId: "query", message: `Could not parse "${query}"`, validatorName: "query" }],
      });
    }
  });

  test("the part named in the message is trimmed", () => {
    assert.equal(malformedError("name = Acme &&   tags  ").message, 'Malformed query: "tags" is not of the form key operator value');
  });

  test("an absent or blank query filters nothing; any other is parsed", () => {
    assert.deepEqual(parseFilter(undefined), []);
    assert.deepEqual(parseFilter(""), []);
    assert.deepEqual(parseFilter("  \t "), []);
    assert.deepEqual(parseFilter(" name = Acme "), [[{ key: "name", operator: "=", value: "Acme" }]]);
    assert.throws(() => parseFilter("name"), HooklineError);
  });

  test(`a query holds at most ${MAX_CONDITIONS} conditions`, () => {
    const conditions = (count: number) => Array.from({ length: count }, (_, index) => `name = c${index}`);
    assert.equal(parseQuery(conditions(MAX_CONDITIONS).join(" || ")).length, MAX_CONDITIONS);
    assert.equal(parseQuery(conditions(MAX_CONDITIONS).join(" && "))[0]!.length, MAX_CONDITIONS);
    const tooMany = conditions(MAX_CONDITIONS + 1).join(" && ");
    assert.equal(malformedError(tooMany).message, `Malformed query: ${MAX_CONDITIONS + 1} conditions; at most ${MAX_CONDITIONS} are allowed`);
  });

  test("a long run of spaces parses in linear time", () => {
    const started = performance.now();
    assert.deepEqual(parseQuery(`name = ${" ".repeat(200_000)}x`), [[{ key: "name", operator: "=", value: "x" }]]);
    assert.throws(() => parseQuery(`name${" ".repeat(200_000)}`), HooklineError);
    assert.ok(performance.now() - started < 1000, "well under a second");
  });
});

describe("orderBy", () => {
  const allowed = { name: "name", createdDate: "created_at" } as const;

  test("a field ascending, or descending with a leading -, else the fallback ascending", () => {
    assert.deepEqual(parseOrderBy("name", allowed, "created_at"), { column: "name", direction: "asc" });
    assert.deepEqual(parseOrderBy("-createdDate", allowed, "name"), { column: "created_at", direction: "desc" });
    assert.deepEqual(parseOrderBy(undefined, allowed, "created_at"), { column: "created_at", direction: "asc" });
  });

  test("a field not allowed is a 400 naming the allowed ones, inherited object keys included", () => {
    for (const orderBy of ["size", "-size", "constructor", "__proto__"]) {
      assert.throws(
        () => parseOrderBy(orderBy, allowed, "name"),
        (error: unknown) =>
          error instanceof HooklineError &&
          error.statusCode === 400 &&
          error.message === `Cannot order by "${orderBy}": use one of name, createdDate (prefix - for descending)`,
      );
    }
  });
});
