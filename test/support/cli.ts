import { execFile } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { encryptionEnvFor } from "./database.ts";
import type { TestServer } from "./server.ts";

/**
 * The built `hookline` CLI, as `npm start` and the `hookline` bin run it:
 * tests that start processes test the compiled code (`npm test` builds it first).
 */
export const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const projectRoot = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A test file run on its own (`node --test`) does not build first, as `npm test` does:
 * it refuses to test a compiled server older than the source instead of testing old code.
 */
function assertBuiltFromSource(): void {
  const built = statSync(CLI, { throwIfNoEntry: false })?.mtimeMs;
  const source = join(projectRoot, "src");
  const newer = readdirSync(source, { recursive: true, encoding: "utf8" }).filter(
    (file) => /\.[jt]s$/.test(file) && statSync(join(source, file)).mtimeMs > (built ?? -1),
  );
  if (built === undefined || newer.length > 0) {
    throw new Error(
      `dist/ is ${built === undefined ? "missing" : `older than src/ (${newer.slice(0, 3).join(", ")})`}: run \`npm run build\` first (npm test does)`,
    );
  }
}
assertBuiltFromSource();

/** Runs the real `hookline` CLI against a database, as a user would from a shell, and returns what it printed. */
export function runCli(databaseUrl: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return runCliWith({}, databaseUrl, ...args);
}

/** runCli with HOOKLINE_* settings of its own on top. */
export async function runCliWith(env: Record<string, string>, databaseUrl: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [CLI, "--database-url", databaseUrl, ...args], {
    cwd: projectRoot,
    env: { ...process.env, HOOKLINE_LOG_LEVEL: "silent", ...encryptionEnvFor(databaseUrl), ...env },
  });
}

/** Runs the `hookline` CLI against a test server's database and returns its standard output. */
export const cli = async (server: TestServer, ...args: string[]): Promise<string> => (await runCli(server.database.url, ...args)).stdout;
