/**
 * The one place Hookline reads its settings from. Every setting has an
 * environment variable (HOOKLINE_*), and the CLI may override any of them;
 * nothing else in the code reads process.env.
 */
export interface Config {
  /** `sqlite:<path>` (embedded default) or `postgres://...`. */
  databaseUrl: string;
  sqliteSynchronous: "NORMAL" | "FULL";
  host: string;
  port: number;
  /** Base URL clients and SMBs reach this server at; used in linkUrl, redirect and portal links. */
  publicUrl: string;
  roles: { api: boolean; worker: boolean };
  logLevel: string;
  delivery: DeliveryConfig;
  /** CIDR ranges consumer URLs may resolve to even though they are private, loopback or link-local. */
  allowedCidrs: string[];
  bodyLimitBytes: number;
}

export interface DeliveryConfig {
  /** Delay before each retry, in ms. The first attempt is immediate; entry n follows the n-th failure. */
  retryScheduleMs: number[];
  attemptTimeoutMs: number;
  batchSize: number;
  leaseMs: number;
  /** Upper bound on how long an idle worker sleeps before looking for due work again. */
  idlePollMs: number;
  responseExcerptBytes: number;
}

export const DEFAULT_RETRY_SCHEDULE = "5s,5m,30m,2h,5h,10h,10h";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "250ms", "5s", "5m", "2h", "1d" or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new Error(`Invalid duration "${text}": use a number with ms, s, m, h or d`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? "ms"]!);
}

/** A comma-separated list of retry delays; "none" means a single attempt. */
export function parseSchedule(text: string): number[] {
  return text.trim() === "none" ? [] : text.split(",").map(parseDuration);
}

function integer(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return parsed;
}

function sqliteSynchronous(text: string): Config["sqliteSynchronous"] {
  const value = text.toUpperCase();
  if (value !== "NORMAL" && value !== "FULL") throw new Error(`${ENV.sqliteSynchronous} must be NORMAL or FULL, got "${text}"`);
  return value;
}

function roles(text: string): Config["roles"] {
  const parts = new Set(text.split(",").map((part) => part.trim()));
  for (const part of parts) {
    if (part !== "api" && part !== "worker") throw new Error(`Unknown role "${part}": use api, worker or api,worker`);
  }
  return { api: parts.has("api"), worker: parts.has("worker") };
}

export type ConfigOverrides = Partial<Record<keyof typeof ENV, string>>;

/** Environment variable for each setting, so the CLI and the README name the same things. */
export const ENV = {
  databaseUrl: "HOOKLINE_DATABASE_URL",
  sqliteSynchronous: "HOOKLINE_SQLITE_SYNCHRONOUS",
  host: "HOOKLINE_HOST",
  port: "HOOKLINE_PORT",
  publicUrl: "HOOKLINE_PUBLIC_URL",
  roles: "HOOKLINE_ROLES",
  logLevel: "HOOKLINE_LOG_LEVEL",
  retrySchedule: "HOOKLINE_RETRY_SCHEDULE",
  attemptTimeout: "HOOKLINE_ATTEMPT_TIMEOUT",
  workerBatchSize: "HOOKLINE_WORKER_BATCH_SIZE",
  workerLease: "HOOKLINE_WORKER_LEASE",
  workerIdlePoll: "HOOKLINE_WORKER_IDLE_POLL",
  allowedCidrs: "HOOKLINE_ALLOWED_CIDRS",
  bodyLimit: "HOOKLINE_BODY_LIMIT_BYTES",
} as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  const read = (key: keyof typeof ENV): string | undefined => overrides[key] ?? env[ENV[key]];
  const host = read("host") ?? "127.0.0.1";
  const port = integer(ENV.port, read("port"), 8080);
  const publicUrl = (read("publicUrl") ?? `http://${host === "0.0.0.0" ? "localhost" : host}:${port}`).replace(/\/+$/, "");
  const delivery: DeliveryConfig = {
    retryScheduleMs: parseSchedule(read("retrySchedule") ?? DEFAULT_RETRY_SCHEDULE),
    attemptTimeoutMs: parseDuration(read("attemptTimeout") ?? "15s"),
    batchSize: integer(ENV.workerBatchSize, read("workerBatchSize"), 64),
    leaseMs: parseDuration(read("workerLease") ?? "60s"),
    idlePollMs: parseDuration(read("workerIdlePoll") ?? "1s"),
    responseExcerptBytes: 1024,
  };
  // A lease shorter than an attempt would let a second worker send a delivery still in flight.
  if (delivery.leaseMs <= delivery.attemptTimeoutMs) {
    throw new Error(`${ENV.workerLease} (${delivery.leaseMs} ms) must be longer than ${ENV.attemptTimeout} (${delivery.attemptTimeoutMs} ms)`);
  }
  return {
    databaseUrl: read("databaseUrl") ?? env.DATABASE_URL ?? "sqlite:data/hookline.db",
    sqliteSynchronous: sqliteSynchronous(read("sqliteSynchronous") ?? "NORMAL"),
    host,
    port,
    publicUrl,
    roles: roles(read("roles") ?? "api,worker"),
    logLevel: read("logLevel") ?? "info",
    delivery,
    allowedCidrs: (read("allowedCidrs") ?? "").split(",").map((cidr) => cidr.trim()).filter(Boolean),
    bodyLimitBytes: integer(ENV.bodyLimit, read("bodyLimit"), 256 * 1024),
  };
}
