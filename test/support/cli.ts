import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { encryptionEnvFor } from "./database.ts";

/**
 * The built `hookline` CLI, as `npm start` and the `hookline` bin run it:
 * tests that start processes test the compiled code (`npm test` builds it first).
 */
export const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const projectRoot = fileURLToPath(new URL("../..", import.meta.url));

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
