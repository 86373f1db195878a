import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import pg from "pg";
import { freePort } from "./server.ts";
import { until, within } from "./wait.ts";

/**
 * A PostgreSQL server of one test's own, in a temporary folder on a free
 * port, so the test may stop and start it while Hookline runs on it. The
 * shared server of the suite must not be stopped: other test files use it.
 */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/hookline`: trust authentication, no password. */
  readonly url: string;
  readonly port: number;
  /** Fast shutdown (SIGINT): open transactions are rolled back, connections are closed. Resolves once the server has exited. */
  stop(): Promise<void>;
  /** Starts the server again on the same folder and port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the server if it runs and removes its folder. */
  destroy(): Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** initdb and postgres, on PATH or in the newest /usr/lib/postgresql/<version>/bin; null when either is missing. */
export function postgresBinaries(): Binaries | null {
  const onPath = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  const versions = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql")
        .filter((version) => /^\d+$/.test(version))
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => `/usr/lib/postgresql/${version}/bin`)
    : [];
  for (const folder of [...onPath, ...versions]) {
    const initdb = join(folder, "initdb");
    const postgres = join(folder, "postgres");
    if (existsSync(initdb) && existsSync(postgres)) return { initdb, postgres };
  }
  return null;
}

/**
 * Why a test that needs a private PostgreSQL cannot run here, or false when
 * it can. Without the binaries it is skipped, unless HOOKLINE_REQUIRE_POSTGRES=1
 * (as in CI): then it runs, and startPrivatePostgres fails it saying why.
 */
export function privatePostgresUnavailable(): string | false {
  if (postgresBinaries() !== null || process.env.HOOKLINE_REQUIRE_POSTGRES === "1") return false;
  return "needs the PostgreSQL server binaries (initdb, postgres) on PATH or in /usr/lib/postgresql/*/bin";
}

/** initdb refuses to run as root: as root, the server runs as the `postgres` system user and owns its folder. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    throw new Error("Running as root, a private PostgreSQL needs the `postgres` system user to run as (initdb refuses root)");
  }
}

/** Runs a command to its end as `user`; rejects with its output when it fails. */
function run(command: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...user });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}:\n${output}`))));
  });
}

async function accepts(url: string): Promise<true | string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** initdb into a new temporary folder and start the server on a free loopback port, with a `hookline` database. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const binaries = postgresBinaries();
  if (binaries === null)
    throw new Error(`A private PostgreSQL is required (HOOKLINE_REQUIRE_POSTGRES=1) but ${privatePostgresUnavailable() || "initdb is missing"}`);
  const user = serverUser();
  const folder = mkdtempSync(join(tmpdir(), "hookline-pg-"));
  if (user) chownSync(folder, user.uid, user.gid);
  const data = join(folder, "data");
  await run(binaries.initdb, ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--encoding=UTF8", "--no-locale"], user);

  const port = await freePort();
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let server: { child: ChildProcess; exited: Promise<void>; output: () => string } | undefined;

  const start = async () => {
    // fsync off: the test stops the server cleanly and never needs its files to survive a power loss.
    const args = ["-D", data, "-p", String(port), "-k", folder, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=50"];
    const child = spawn(binaries.postgres, args, { stdio: ["ignore", "pipe", "pipe"], ...user });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
    server = { child, exited, output: () => output };
    await until("the private PostgreSQL to accept connections", async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited while starting:\n${output}`);
      return accepts(admin);
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${output}`);
    });
  };

  const stop = async () => {
    const running = server;
    server = undefined;
    if (!running) return;
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill("SIGINT");
    await within(running.exited, () => `the private PostgreSQL did not stop:\n${running.output()}`);
  };

  try {
    await start();
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query("CREATE DATABASE hookline");
    await client.end();
  } catch (error) {
    await stop();
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }

  return {
    url: `postgres://postgres@127.0.0.1:${port}/hookline`,
    port,
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
