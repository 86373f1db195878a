/**
 * The whole test suite: every test file on SQLite, then again on PostgreSQL,
 * then the line and branch coverage of src/ over both passes.
 * Without a reachable PostgreSQL the second pass is skipped and says so,
 * unless HOOKLINE_REQUIRE_POSTGRES=1 (as in CI), where that is a failure.
 *
 * The page tests need Debian's Chromium (test/support/browser.ts); without it
 * they are reported as skipped, and this says so, unless
 * HOOKLINE_REQUIRE_BROWSER=1 (as in CI). They run in the SQLite pass only.
 *
 * Arguments: test files to run only those, and `--seed N` (or
 * HOOKLINE_TEST_SEED=N) to replay an order of the files. Each pass runs the
 * files in an order shuffled from that seed (a random one when none is given,
 * printed either way), so a test that only passes after another one shows up.
 * Node's own `--test` sorts the files it is given, hence `run()` here.
 *
 * Coverage: V8 writes what every process ran (test files, the CLI and server
 * processes they start from dist/, worker threads) into NODE_V8_COVERAGE; c8
 * maps the compiled files back to src/ through their source maps.
 */
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { run } from "node:test";
import { spec } from "node:test/reporters";
import pg from "pg";
import { browserMissing } from "../test/support/browser.ts";
import { postgresAdminUrl } from "../test/support/database.ts";

/** Where the report goes; `coverage-summary.json` in it is what the CI's floor (scripts/coverage-floor.ts) reads. */
const COVERAGE_DIR = "coverage";

interface Outcome {
  passed: number;
  failed: number;
}

function parseArguments(argv: readonly string[]): { seed: number; files: string[] } {
  const files: string[] = [];
  let seedText = process.env.HOOKLINE_TEST_SEED;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    if (argument === "--seed") seedText = argv[++index];
    else if (argument.startsWith("--seed=")) seedText = argument.slice("--seed=".length);
    else files.push(argument);
  }
  if (seedText !== undefined && !/^\d+$/.test(seedText)) throw new Error(`The seed must be a whole number, not "${seedText}"`);
  return { seed: seedText === undefined ? randomInt(2 ** 32) : Number(seedText) % 2 ** 32, files };
}

/** mulberry32: a small PRNG, so that one seed gives the same order on every machine and Node version. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Fisher-Yates over a copy. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const result = [...items];
  for (let index = result.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  return result;
}

async function runPass(dialect: "sqlite" | "postgres", files: readonly string[]): Promise<Outcome> {
  console.log(`\n=== Test suite on ${dialect} (${files.length} files), in this order ===\n${files.join("\n")}\n`);
  // The test processes inherit the environment as it is when run() starts them.
  process.env.HOOKLINE_TEST_DIALECT = dialect;
  const counts = new Map<string, number>();
  const stream = run({ files: [...files], concurrency: 2 });
  stream.on("test:diagnostic", ({ nesting, message }: { nesting: number; message: string }) => {
    const match = nesting === 0 ? /^(pass|fail|cancelled) (\d+)$/.exec(message) : null;
    if (match) counts.set(match[1]!, Number(match[2]));
  });
  await new Promise<void>((done, fail) => stream.compose(new spec()).on("end", done).on("error", fail).pipe(process.stdout, { end: false }));
  return { passed: counts.get("pass") ?? 0, failed: (counts.get("fail") ?? 0) + (counts.get("cancelled") ?? 0) };
}

async function postgresReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: postgresAdminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Prints the coverage of src/ from what V8 recorded in `rawDir`, and writes the reports into COVERAGE_DIR. */
function reportCoverage(rawDir: string): void {
  const c8 = createRequire(import.meta.url).resolve("c8/bin/c8.js");
  const reporters = ["text-summary", "json-summary", "html"].flatMap((reporter) => ["--reporter", reporter]);
  // Exclusion after the source maps are applied, so the compiled dist/ files count as the src/ files they come from.
  const include = ["--include", "src/**", "--exclude", "src/generated/**", "--exclude", "**/*.d.ts", "--exclude-after-remap", "--all"];
  const result = spawnSync(process.execPath, [c8, "report", "--temp-directory", rawDir, "--reports-dir", COVERAGE_DIR, ...reporters, ...include], {
    stdio: "inherit",
  });
  rmSync(rawDir, { recursive: true, force: true });
  if (result.status !== 0) throw new Error("The coverage report failed");
  const { total } = JSON.parse(readFileSync(join(COVERAGE_DIR, "coverage-summary.json"), "utf8")) as CoverageSummary;
  console.log(`Coverage of src/ (both passes): lines ${total.lines.pct}%, branches ${total.branches.pct}% (report: ${COVERAGE_DIR}/index.html)`);
}

interface CoverageSummary {
  total: Record<"lines" | "branches" | "functions" | "statements", { pct: number }>;
}

const { seed, files: requested } = parseArguments(process.argv.slice(2));
const files =
  requested.length > 0
    ? requested
    : readdirSync("test", { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".test.ts"))
        .map((file) => join("test", file))
        .sort();
console.log(`Test order seed: ${seed} (replay this order with HOOKLINE_TEST_SEED=${seed} or \`npm test -- --seed ${seed}\`)`);
const random = randomSource(seed);
if (browserMissing !== false) console.log(`\nPage tests ${browserMissing}`);

const rawCoverage = resolve(COVERAGE_DIR, "raw");
rmSync(COVERAGE_DIR, { recursive: true, force: true });
process.env.NODE_V8_COVERAGE = rawCoverage;

const results: Array<[string, Outcome]> = [["sqlite", await runPass("sqlite", shuffled(files, random))]];
const unreachable = await postgresReachable();
if (unreachable === null) {
  results.push(["postgres", await runPass("postgres", shuffled(files, random))]);
} else if (process.env.HOOKLINE_REQUIRE_POSTGRES === "1") {
  console.log(`\nPostgreSQL suite required but PostgreSQL is unreachable at ${new URL(postgresAdminUrl).host}: ${unreachable}`);
  results.push(["postgres", { passed: 0, failed: 1 }]);
} else {
  console.log(`\nPostgreSQL suite SKIPPED: no PostgreSQL at ${new URL(postgresAdminUrl).host} (${unreachable}). Set HOOKLINE_TEST_POSTGRES_URL to run it.`);
}

console.log("");
reportCoverage(rawCoverage);
console.log("");
for (const [dialect, outcome] of results) console.log(`${dialect}: ${outcome.passed} passed, ${outcome.failed} failed`);
const passed = results.reduce((sum, [, outcome]) => sum + outcome.passed, 0);
const failed = results.reduce((sum, [, outcome]) => sum + outcome.failed, 0);
if (browserMissing !== false) console.log(`page tests ${browserMissing}`);
console.log(`total: ${passed} passed, ${failed} failed (seed ${seed})`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
