/**
 * The whole test suite: every test file on SQLite, then again on PostgreSQL.
 * Without a reachable PostgreSQL the second pass is skipped and says so,
 * unless HOOKLINE_REQUIRE_POSTGRES=1 (as in CI), where that is a failure.
 * Pass test files as arguments to run only those.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { postgresAdminUrl } from "../test/support/database.ts";

const requested = process.argv.slice(2);
const files =
  requested.length > 0
    ? requested
    : readdirSync("test", { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".test.ts"))
        .map((file) => join("test", file))
        .sort();

interface Outcome {
  passed: number;
  failed: number;
  exitCode: number;
}

function runPass(dialect: "sqlite" | "postgres"): Promise<Outcome> {
  console.log(`\n=== Test suite on ${dialect} (${files.length} files) ===\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", "--test-reporter=spec", ...files], {
      env: { ...process.env, HOOKLINE_TEST_DIALECT: dialect },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      process.stdout.write(chunk);
    });
    child.on("close", (code) => {
      const count = (label: string) => Number(new RegExp(`^ℹ ${label} (\\d+)`, "m").exec(output)?.[1] ?? 0);
      resolve({ passed: count("pass"), failed: count("fail") + count("cancelled"), exitCode: code ?? 1 });
    });
  });
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

const results: Array<[string, Outcome]> = [["sqlite", await runPass("sqlite")]];
const unreachable = await postgresReachable();
if (unreachable === null) {
  results.push(["postgres", await runPass("postgres")]);
} else if (process.env.HOOKLINE_REQUIRE_POSTGRES === "1") {
  console.log(`\nPostgreSQL suite required but PostgreSQL is unreachable at ${new URL(postgresAdminUrl).host}: ${unreachable}`);
  results.push(["postgres", { passed: 0, failed: 1, exitCode: 1 }]);
} else {
  console.log(`\nPostgreSQL suite SKIPPED: no PostgreSQL at ${new URL(postgresAdminUrl).host} (${unreachable}). Set HOOKLINE_TEST_POSTGRES_URL to run it.`);
}

console.log("");
for (const [dialect, outcome] of results) console.log(`${dialect}: ${outcome.passed} passed, ${outcome.failed} failed`);
const passed = results.reduce((sum, [, outcome]) => sum + outcome.passed, 0);
const failed = results.reduce((sum, [, outcome]) => sum + outcome.failed, 0);
console.log(`total: ${passed} passed, ${failed} failed`);
process.exit(results.every(([, outcome]) => outcome.exitCode === 0) && failed === 0 ? 0 : 1);
