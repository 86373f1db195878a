import { spawn, type ChildProcess } from "node:child_process";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { Store } from "../../src/storage/database.ts";
import { CLI } from "./cli.ts";
import { createTestDatabase, encryptionEnvFor, type TestDatabase } from "./database.ts";
import { Receiver } from "./receiver.ts";
import { callApi, freePort, type ApiResponse } from "./server.ts";
import { until, WAIT_MS, within } from "./wait.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const API_KEY_LINE = /API key \(shown once[^)]*\): (\S+)/;

export interface ServeOptions {
  port?: number;
  /** `api`, `worker` or `api,worker` (the default). */
  roles?: string;
  /** HOOKLINE_* settings on top of the defaults (loopback receivers allowed, warnings only). */
  env?: Record<string, string>;
}

/** The environment of a `serve` process: the caller's HOOKLINE_* settings only (and the PostgreSQL encryption key), none inherited from the test run. */
function serveEnvironment(databaseUrl: string, env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("HOOKLINE_")));
  return { ...inherited, HOOKLINE_ALLOWED_CIDRS: "127.0.0.0/8", HOOKLINE_LOG_LEVEL: "warn", ...encryptionEnvFor(databaseUrl), ...env };
}

/** `hookline serve` as a child process, with everything it printed. */
export class ServeProcess {
  private output = "";
  private stdoutText = "";
  private stderrText = "";
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
  ) {
    child.stdout!.on("data", (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      this.stdoutText += chunk.toString("utf8");
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      this.stderrText += chunk.toString("utf8");
    });
    // "close" rather than "exit": by then everything the process printed has been read.
    this.exit = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  }

  static spawn(databaseUrl: string, port: number, options: Omit<ServeOptions, "port"> = {}): ServeProcess {
    const args = [CLI, "--database-url", databaseUrl, "serve", "--port", String(port), "--roles", options.roles ?? "api,worker"];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: serveEnvironment(databaseUrl, options.env ?? {}), stdio: ["ignore", "pipe", "pipe"] });
    return new ServeProcess(child, `http://127.0.0.1:${port}`);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Polls GET /healthz (bounded); fails at once if the process exits. */
  async ready(): Promise<void> {
    const healthy = async () => {
      if (!this.running) throw new Error(`serve exited before answering /healthz:\n${this.output}`);
      return fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
        (response) => response.ok,
        () => false,
      );
    };
    await until("serve to answer /healthz", healthy).catch((error: Error) => {
      throw new Error(`${error.message}:\n${this.output}`);
    });
  }

  /** Resolves with the first match of `pattern` in stdout or stderr, as soon as it is printed. */
  waitForOutput(pattern: RegExp): Promise<RegExpExecArray> {
    const streams = [this.child.stdout!, this.child.stderr!];
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.output);
        if (match) finish(() => resolve(match));
      };
      const exited = () => finish(() => reject(new Error(`serve exited before printing ${pattern}:\n${this.output}`)));
      const timer = setTimeout(() => finish(() => reject(new Error(`serve did not print ${pattern} within ${WAIT_MS} ms:\n${this.output}`))), WAIT_MS);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        for (const stream of streams) stream.off("data", check);
        this.child.off("close", exited);
        settle();
      };
      for (const stream of streams) stream.on("data", check);
      this.child.once("close", exited);
      check();
    });
  }

  /** Resolves once the process has exited by itself (bounded), with its exit status. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return within(this.exit, () => `serve did not exit within ${WAIT_MS} ms:\n${this.output}`);
  }

  /** SIGKILL: no shutdown hook, no last write. Idempotent, so cleanup may always call it. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill("SIGKILL");
    await this.exit;
  }

  /** SIGTERM, and the exit status of the graceful shutdown (bounded). */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill("SIGTERM");
    return within(this.exit, () => `serve did not exit within ${WAIT_MS} ms of SIGTERM:\n${this.output}`);
  }

  /** Everything printed, standard output and standard error interleaved. */
  logs(): string {
    return this.output;
  }

  /** What was printed on standard output (the JSON log lines) and on standard error, apart. */
  streams(): { stdout: string; stderr: string } {
    return { stdout: this.stdoutText, stderr: this.stderrText };
  }
}

/**
 * What one test starts, stopped in reverse order in its `after` hook whether
 * the test passed or not: processes are killed before their database is dropped.
 */
export class Harness {
  private readonly cleanups: Array<() => Promise<unknown>> = [];

  constructor(t: TestContext) {
    t.after(() => this.cleanup());
  }

  /** Runs `cleanup` when the test ends, after stopping what is started later (servers stop before the database they use goes). */
  onCleanup(cleanup: () => Promise<unknown>): void {
    this.cleanups.push(cleanup);
  }

  async database(): Promise<TestDatabase> {
    const database = await createTestDatabase();
    this.cleanups.push(() => database.drop());
    return database;
  }

  /** Starts `serve` and, when it runs the API, waits until it answers; the process is killed at cleanup if still alive. */
  async serve(databaseUrl: string, options: ServeOptions = {}): Promise<ServeProcess> {
    const server = ServeProcess.spawn(databaseUrl, options.port ?? (await freePort()), options);
    this.cleanups.push(() => server.kill());
    if ((options.roles ?? "api,worker").includes("api")) await server.ready();
    return server;
  }

  /** A second connection to the server's database, to read what it recorded. */
  async store(databaseUrl: string): Promise<Store> {
    const store = await Store.open(databaseUrl);
    this.cleanups.push(() => store.close());
    return store;
  }

  async receiver(port = 0): Promise<Receiver> {
    const receiver = await Receiver.start(undefined, port);
    this.cleanups.push(() => receiver.close());
    return receiver;
  }

  private async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (let cleanup = this.cleanups.pop(); cleanup; cleanup = this.cleanups.pop()) {
      await cleanup().catch((error: unknown) => errors.push(error));
    }
    if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
  }
}

export type Api = <T = any>(method: string, path: string, body?: unknown) => Promise<ApiResponse<T>>;

/** First start on an empty database: the API key `serve` prints once. */
export async function firstStart(
  harness: Harness,
  databaseUrl: string,
  options: ServeOptions = {},
): Promise<{ server: ServeProcess; api: Api; apiKey: string }> {
  const server = await harness.serve(databaseUrl, options);
  const apiKey = (await server.waitForOutput(API_KEY_LINE))[1]!;
  return { server, apiKey, api: (method, path, body) => callApi(server.baseUrl, apiKey, method, path, body) };
}
