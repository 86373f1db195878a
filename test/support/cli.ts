import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Runs the real `hookline` CLI against a database, as a user would from a shell, and returns what it printed. */
export async function runCli(databaseUrl: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/main.ts", "--database-url", databaseUrl, ...args], {
    cwd: projectRoot,
    env: { ...process.env, HOOKLINE_LOG_LEVEL: "silent" },
  });
}
