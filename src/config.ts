/**
 * The one place Hookline reads its settings from. Every setting has an
 * environment variable (HOOKLINE_*), and the CLI may override any of them;
 * nothing else in the code reads process.env.
 */
import { isIP } from "node:net";

export interface Config {
  /** `sqlite:<path>` (embedded default) or `postgres://...`. */
  databaseUrl: string;
  sqliteSynchronous: "NORMAL" | "FULL";
  /** PostgreSQL's `synchronous_commit` for Hookline's sessions. */
  postgresSynchronousCommit: "on" | "off";
  host: string;
  port: number;
  /** Where a process without the API role serves /healthz, /readyz and /metrics; null: it serves no HTTP. */
  metricsPort: number | null;
  /** How long /metrics reuses its read of the queue gauges, which count the pending deliveries. */
  metricsQueueRefreshMs: number;
  /** Base URL clients and SMBs reach this server at; used in linkUrl, redirect and portal links. */
  publicUrl: string;
  /**
   * Whether the settings gave the public URL (HOOKLINE_PUBLIC_URL, or the host
   * and port it is made of) rather than defaults: when they did not, the CLI
   * uses the one the server recorded.
   */
  publicUrlConfigured: boolean;
  roles: { api: boolean; worker: boolean };
  logLevel: string;
  delivery: DeliveryConfig;
  /** CIDR ranges consumer URLs may resolve to even though they are private, loopback or link-local. */
  allowedCidrs: string[];
  bodyLimitBytes: number;
  httpLimits: HttpLimitsConfig;
  messages: MessageLogConfig;
  /** Per-client API request quota per window (a UTC day by default); null when off. */
  dailyQuota: DailyQuotaConfig | null;
  /** How long a publish's Idempotency-Key is remembered: never longer than payloads are. */
  idempotencyKeyTtlMs: number;
  consumers: ConsumerConfig;
  limits: TenantLimits;
  portal: PortalConfig;
  transformations: TransformationConfig;
  insight: InsightConfig;
  integrations: IntegrationsConfig;
}

/** The web portal's sign-ins and embeddable access links. */
export interface PortalConfig {
  /** How long a portal session lasts, signed in with an API key or opened by an access link. */
  sessionTtlMs: number;
  /** How long an access link may be opened (once) after POST /portal/access made it. */
  accessLinkTtlMs: number;
}

/** What one run of a consumer's transformation may take, in its sandbox; a run past either fails its attempt. */
export interface TransformationConfig {
  /** Heap of one transformation's JavaScript engine, in bytes. */
  memoryLimitBytes: number;
  /** Time one run may take (a handler call, or the code's top level when it is compiled). */
  timeLimitMs: number;
}

/** Connection insight: the link funnel's figures and the alert rules' evaluation. */
export interface InsightConfig {
  /** A connection whose link page was opened this long ago, neither linked nor failed since, counts as abandoned. */
  abandonAfterMs: number;
  /** How often the alert rules are evaluated. */
  alertIntervalMs: number;
  /** A page step (link page opened, sent to the provider, come back) repeated within this window is recorded once. */
  stepRepeatWindowMs: number;
  /** Link steps older than this are deleted by the retention job; null keeps them forever. The journeys' summaries stay. */
  stepRetentionMs: number | null;
}

/** Where the operator's integrations are declared and how linked connections' access tokens are kept fresh. */
export interface IntegrationsConfig {
  /** The YAML or JSON file declaring the operator's integrations; null: only the built-in sandbox. */
  file: string | null;
  /** How often the refresh job looks for access tokens about to expire. */
  refreshIntervalMs: number;
  /** A token is refreshed once it expires within this long. */
  refreshAheadMs: number;
  /** How long refreshes may keep failing for a passing reason (5xx, timeouts) before the connection is Deauthorized. */
  refreshGraceMs: number;
  /** How long a customer has to sign in at an OAuth provider and come back before the attempt's state is refused. */
  signInTtlMs: number;
}

/** What one client may ask of the service at most, so no tenant can take it over. */
export interface TenantLimits {
  /** Webhook consumers one client may have. */
  consumersPerClient: number;
  /** Deliveries one publish request may create: its events times the consumers each goes to. */
  publishFanout: number;
}

/** Webhook consumer settings: secret rotation and the encryption of consumers' secrets at rest. */
export interface ConsumerConfig {
  /** How long a rotated-out signing secret keeps signing deliveries beside the new one. */
  secretRotationOverlapMs: number;
  /**
   * Base64 of 32-byte AES-256-GCM keys that encrypt consumers' secrets at
   * rest: the first seals, every one opens. Empty when the operator set none;
   * a SQLite deployment then uses the key file next to its database.
   */
  encryptionKeys: string[];
  /** How long a `hookline listen` consumer outlives its last stream (a CLI reconnecting after a restart or a dropped network) before it is removed. */
  listenGraceMs: number;
}

/** How long and how large a request may be before the server answers it with an error and closes its connection. */
export interface HttpLimitsConfig {
  /** Time to receive a whole request, headers and body: a client trickling its body is cut off (408). */
  requestTimeoutMs: number;
  /** A connection on which nothing moves for this long is closed. */
  connectionTimeoutMs: number;
  /** Largest request line and headers together (431 beyond). */
  maxHeaderBytes: number;
}

export interface DailyQuotaConfig {
  limit: number;
  /** Length of a quota window; windows start at multiples of it since the epoch, so "1d" means UTC days. */
  windowMs: number;
}

/** The message log: how long messages and their payloads are kept, and the pace of recoveries and replays. */
export interface MessageLogConfig {
  /**
   * Messages older than this are deleted, with their deliveries, attempts and
   * restarts (a message with a pending delivery waits until it is final); null keeps them forever.
   */
  messageRetentionMs: number | null;
  /** Message bodies older than this are purged (their metadata stays); never longer than messageRetentionMs; null keeps them forever. */
  payloadRetentionMs: number | null;
  /** How often the retention job looks for expired messages and bodies. */
  retentionIntervalMs: number;
  /** Messages per second that recover and replay send to a consumer without a rate limit of its own. */
  recoveryRatePerSecond: number;
}

export interface DeliveryConfig {
  /** Delay before each retry, in ms. The first attempt is immediate; entry n follows the n-th failure. */
  retryScheduleMs: number[];
  attemptTimeoutMs: number;
  batchSize: number;
  /** Batches a worker keeps in flight at once. */
  concurrency: number;
  /** The most the fresh lane takes at once: what fell due while every batch is busy. 0 turns the lane off. */
  freshBatchSize: number;
  leaseMs: number;
  /** Upper bound on how long an idle worker sleeps before looking for due work again. */
  idlePollMs: number;
  responseExcerptBytes: number;
  /** A consumer whose every attempt failed for this long is disabled. */
  autoDisableAfterMs: number;
  /** When a consumer's circuit opens and how long it stays open before a probe; null when the breaker is off. */
  circuitBreaker: CircuitBreakerConfig | null;
  /** PEM file of CA certificates trusted for HTTPS deliveries besides the system ones; null for none. */
  extraCaFile: string | null;
  /** UTF-8 bytes of event bodies a worker holds in flight across its batches (each batch a share, at least one body). */
  bodyBudgetBytes: number;
  /** The sender thread's heap limit, in MB. */
  senderHeapMb: number;
  /**
   * An attempt still unanswered this long makes its consumer slow: its
   * deliveries are then sent apart, so they no longer hold up the batches of
   * the others, and at most `slowConsumerConcurrency` of them at once.
   */
  slowConsumerMs: number;
  /** Attempts a worker has in flight at once to one slow consumer. */
  slowConsumerConcurrency: number;
}

export interface CircuitBreakerConfig {
  /** Attempts in a row that found a consumer unreachable (no answer, or a 5xx) before its circuit opens. */
  failures: number;
  /** How long an open circuit holds the consumer's deliveries before one probe is sent. */
  cooldownMs: number;
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

function positive(name: string, value: number): number {
  if (value === 0) throw new Error(`${name} must be at least 1`);
  return value;
}

function postgresSynchronousCommit(text: string): Config["postgresSynchronousCommit"] {
  const value = text.trim().toLowerCase();
  if (value !== "on" && value !== "off") throw new Error(`${ENV.postgresSynchronousCommit} must be on or off, got "${text}"`);
  return value;
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

/** A quota of 0 (the default) means no quota. */
function dailyQuota(limit: number, windowMs: number): Config["dailyQuota"] {
  if (limit === 0) return null;
  if (windowMs <= 0) throw new Error(`${ENV.quotaWindow} must be longer than 0`);
  return { limit, windowMs };
}

function httpLimits(requestTimeout: string, connectionTimeout: string, maxHeaderBytes: number): HttpLimitsConfig {
  const limits = { requestTimeoutMs: parseDuration(requestTimeout), connectionTimeoutMs: parseDuration(connectionTimeout), maxHeaderBytes };
  // Zero would mean "no limit" to Node, which is what these settings exist to prevent.
  if (limits.requestTimeoutMs === 0) throw new Error(`${ENV.requestTimeout} must be longer than 0`);
  if (limits.connectionTimeoutMs === 0) throw new Error(`${ENV.connectionTimeout} must be longer than 0`);
  if (maxHeaderBytes < 1024) throw new Error(`${ENV.maxHeaderBytes} must be at least 1024`);
  return limits;
}

/** How long messages and payloads are kept by default. */
export const DEFAULT_RETENTION = "30d";

/** A retention period: a duration, or `none` (kept forever, null). */
const retentionPeriod = (text: string): number | null => (text.trim() === "none" ? null : parseDuration(text));
const describeRetention = (ms: number | null, text: string): string => (ms === null ? "none" : `${text.trim()}, ${ms} ms`);

/**
 * A payload cannot outlive its message. Unset, the payload retention is the
 * default or the message retention, whichever is shorter; set longer than the
 * message retention (or `none` while messages expire), Hookline refuses to
 * start rather than delete payloads earlier than the operator asked.
 */
function messageLog(message: string | undefined, payload: string | undefined, interval: string, recoveryRatePerSecond: number): MessageLogConfig {
  if (recoveryRatePerSecond === 0) throw new Error(`${ENV.recoveryRate} must be at least 1 message per second`);
  const retentionIntervalMs = parseDuration(interval);
  if (retentionIntervalMs === 0) throw new Error(`${ENV.retentionInterval} must be longer than 0`);
  const messageText = message ?? DEFAULT_RETENTION;
  const messageRetentionMs = retentionPeriod(messageText);
  let payloadRetentionMs: number | null;
  if (payload === undefined) {
    const fallback = retentionPeriod(DEFAULT_RETENTION)!;
    payloadRetentionMs = messageRetentionMs === null ? fallback : Math.min(fallback, messageRetentionMs);
  } else {
    payloadRetentionMs = retentionPeriod(payload);
    if (messageRetentionMs !== null && (payloadRetentionMs === null || payloadRetentionMs > messageRetentionMs)) {
      throw new Error(
        `${ENV.payloadRetention} (${describeRetention(payloadRetentionMs, payload)}) is longer than ${ENV.messageRetention} ` +
          `(${describeRetention(messageRetentionMs, messageText)}${message === undefined ? ", the default" : ""}), and a payload cannot outlive its message: ` +
          `set ${ENV.messageRetention} to at least as long (or none), or ${ENV.payloadRetention} to at most as long`,
      );
    }
  }
  return { messageRetentionMs, payloadRetentionMs, retentionIntervalMs, recoveryRatePerSecond };
}

/**
 * A comma-separated list of keys, the one that seals first. Each must decode
 * to exactly 32 bytes: a wrong one fails at start, not when a secret is first
 * sealed. `source` names where the list came from in the error.
 */
export function parseEncryptionKeys(text: string | undefined, source: string = ENV.encryptionKey): string[] {
  const keys = (text ?? "")
    .split(",")
    .map((key) => key.trim())
    .filter(Boolean);
  if (keys.some((key) => Buffer.from(key, "base64").length !== 32)) {
    throw new Error(`${source} must hold 32-byte keys in base64, separated by commas (make one with \`openssl rand -base64 32\`)`);
  }
  return keys;
}

/**
 * Every range in full, `address/prefix length`: shorthand such as `10/8` would
 * be read as another range (0.0.0.10/8, which admits 0.0.0.0), so it is refused.
 */
function allowedCidrs(text: string): string[] {
  const cidrs = text
    .split(",")
    .map((cidr) => cidr.trim())
    .filter(Boolean);
  for (const cidr of cidrs) {
    const match = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/.exec(cidr);
    const family = match ? isIP(match[1]!) : 0;
    if (family === 0 || Number(match![2]) > (family === 4 ? 32 : 128)) {
      throw new Error(`${ENV.allowedCidrs} must list ranges as address/prefix length (like 10.0.0.0/8 or fd00::/8), got "${cidr}"`);
    }
  }
  return cidrs;
}

export type ConfigOverrides = Partial<Record<keyof typeof ENV, string>>;

/** Environment variable for each setting, so the CLI and the README name the same things. */
export const ENV = {
  databaseUrl: "HOOKLINE_DATABASE_URL",
  sqliteSynchronous: "HOOKLINE_SQLITE_SYNCHRONOUS",
  postgresSynchronousCommit: "HOOKLINE_POSTGRES_SYNCHRONOUS_COMMIT",
  host: "HOOKLINE_HOST",
  port: "HOOKLINE_PORT",
  metricsPort: "HOOKLINE_METRICS_PORT",
  metricsQueueRefresh: "HOOKLINE_METRICS_QUEUE_REFRESH",
  publicUrl: "HOOKLINE_PUBLIC_URL",
  roles: "HOOKLINE_ROLES",
  logLevel: "HOOKLINE_LOG_LEVEL",
  retrySchedule: "HOOKLINE_RETRY_SCHEDULE",
  attemptTimeout: "HOOKLINE_ATTEMPT_TIMEOUT",
  workerBatchSize: "HOOKLINE_WORKER_BATCH_SIZE",
  workerFreshBatchSize: "HOOKLINE_WORKER_FRESH_BATCH_SIZE",
  workerConcurrency: "HOOKLINE_WORKER_CONCURRENCY",
  workerLease: "HOOKLINE_WORKER_LEASE",
  workerIdlePoll: "HOOKLINE_WORKER_IDLE_POLL",
  allowedCidrs: "HOOKLINE_ALLOWED_CIDRS",
  bodyLimit: "HOOKLINE_BODY_LIMIT_BYTES",
  requestTimeout: "HOOKLINE_REQUEST_TIMEOUT",
  connectionTimeout: "HOOKLINE_CONNECTION_TIMEOUT",
  maxHeaderBytes: "HOOKLINE_MAX_HEADER_BYTES",
  messageRetention: "HOOKLINE_MESSAGE_RETENTION",
  payloadRetention: "HOOKLINE_PAYLOAD_RETENTION",
  retentionInterval: "HOOKLINE_RETENTION_INTERVAL",
  recoveryRate: "HOOKLINE_RECOVERY_RATE",
  dailyQuota: "HOOKLINE_DAILY_QUOTA",
  quotaWindow: "HOOKLINE_QUOTA_WINDOW",
  idempotencyKeyTtl: "HOOKLINE_IDEMPOTENCY_KEY_TTL",
  secretRotationOverlap: "HOOKLINE_SECRET_ROTATION_OVERLAP",
  encryptionKey: "HOOKLINE_ENCRYPTION_KEY",
  autoDisableAfter: "HOOKLINE_AUTO_DISABLE_AFTER",
  circuitBreakerFailures: "HOOKLINE_CIRCUIT_BREAKER_FAILURES",
  circuitBreakerCooldown: "HOOKLINE_CIRCUIT_BREAKER_COOLDOWN",
  extraCaFile: "HOOKLINE_EXTRA_CA_FILE",
  workerBodyBudget: "HOOKLINE_WORKER_BODY_BUDGET_BYTES",
  senderHeap: "HOOKLINE_SENDER_HEAP_MB",
  slowConsumerAfter: "HOOKLINE_SLOW_CONSUMER_AFTER",
  slowConsumerConcurrency: "HOOKLINE_SLOW_CONSUMER_CONCURRENCY",
  maxConsumersPerClient: "HOOKLINE_MAX_CONSUMERS_PER_CLIENT",
  maxPublishFanout: "HOOKLINE_MAX_PUBLISH_FANOUT",
  portalSessionTtl: "HOOKLINE_PORTAL_SESSION_TTL",
  portalLinkTtl: "HOOKLINE_PORTAL_LINK_TTL",
  transformationMemory: "HOOKLINE_TRANSFORMATION_MEMORY_MB",
  transformationTimeout: "HOOKLINE_TRANSFORMATION_TIMEOUT",
  linkAbandonAfter: "HOOKLINE_LINK_ABANDON_AFTER",
  insightAlertInterval: "HOOKLINE_INSIGHT_ALERT_INTERVAL",
  linkStepRepeatWindow: "HOOKLINE_LINK_STEP_REPEAT_WINDOW",
  linkStepRetention: "HOOKLINE_LINK_STEP_RETENTION",
  integrationsFile: "HOOKLINE_INTEGRATIONS_FILE",
  tokenRefreshInterval: "HOOKLINE_TOKEN_REFRESH_INTERVAL",
  tokenRefreshAhead: "HOOKLINE_TOKEN_REFRESH_AHEAD",
  tokenRefreshGrace: "HOOKLINE_TOKEN_REFRESH_GRACE",
  linkSignInTtl: "HOOKLINE_LINK_SIGN_IN_TTL",
  listenGrace: "HOOKLINE_LISTEN_GRACE",
  // Read by the CLI commands that call a server over its API (`hookline listen`), not by the server.
  apiUrl: "HOOKLINE_API_URL",
  apiKey: "HOOKLINE_API_KEY",
} as const;

/** Time an attempt's batch keeps, beyond its two timeouts (one to send, one to record), before its lease runs out. */
const LEASE_MARGIN_MS = 1000;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  const read = (key: keyof typeof ENV): string | undefined => overrides[key] ?? env[ENV[key]];
  const host = read("host") ?? "127.0.0.1";
  const port = integer(ENV.port, read("port"), 8080);
  // Unset or empty: the process serves no HTTP without the API role (an empty value must not mean "any free port").
  const metricsPort = read("metricsPort");
  const publicUrl = (read("publicUrl") ?? `http://${host === "0.0.0.0" ? "localhost" : host}:${port}`).replace(/\/+$/, "");
  const delivery: DeliveryConfig = {
    retryScheduleMs: parseSchedule(read("retrySchedule") ?? DEFAULT_RETRY_SCHEDULE),
    attemptTimeoutMs: parseDuration(read("attemptTimeout") ?? "15s"),
    batchSize: integer(ENV.workerBatchSize, read("workerBatchSize"), 128),
    concurrency: Math.max(1, integer(ENV.workerConcurrency, read("workerConcurrency"), 2)),
    freshBatchSize: integer(ENV.workerFreshBatchSize, read("workerFreshBatchSize"), 32),
    leaseMs: parseDuration(read("workerLease") ?? "60s"),
    idlePollMs: parseDuration(read("workerIdlePoll") ?? "1s"),
    responseExcerptBytes: 1024,
    autoDisableAfterMs: parseDuration(read("autoDisableAfter") ?? "5d"),
    circuitBreaker: circuitBreaker(
      integer(ENV.circuitBreakerFailures, read("circuitBreakerFailures"), 0),
      parseDuration(read("circuitBreakerCooldown") ?? "1m"),
    ),
    extraCaFile: read("extraCaFile") || null,
    bodyBudgetBytes: positive(ENV.workerBodyBudget, integer(ENV.workerBodyBudget, read("workerBodyBudget"), 16 * 1024 * 1024)),
    senderHeapMb: positive(ENV.senderHeap, integer(ENV.senderHeap, read("senderHeap"), 128)),
    // Long enough that a busy receiver, or a worker slowed down by its own load, is not taken for a slow one.
    slowConsumerMs: parseDuration(read("slowConsumerAfter") ?? "5s"),
    slowConsumerConcurrency: positive(ENV.slowConsumerConcurrency, integer(ENV.slowConsumerConcurrency, read("slowConsumerConcurrency"), 16)),
  };
  // A lease that ran out while its attempt was still in flight, or before its outcome was recorded, would have a
  // second worker send the delivery again although nothing crashed: the lease covers a whole attempt, then the record.
  const shortestLease = 2 * delivery.attemptTimeoutMs + LEASE_MARGIN_MS;
  if (delivery.leaseMs < shortestLease) {
    throw new Error(
      `${ENV.workerLease} (${delivery.leaseMs} ms) must be at least twice ${ENV.attemptTimeout} (${delivery.attemptTimeoutMs} ms) plus ${LEASE_MARGIN_MS} ms: ${shortestLease} ms`,
    );
  }
  const messages = messageLog(
    read("messageRetention") || undefined,
    read("payloadRetention") || undefined,
    read("retentionInterval") ?? "1h",
    integer(ENV.recoveryRate, read("recoveryRate"), 10),
  );
  // A key keeps its publish's answer, the events themselves: it may not outlive their payload retention.
  const idempotencyKeyTtlMs = Math.min(parseDuration(read("idempotencyKeyTtl") ?? "24h"), messages.payloadRetentionMs ?? Infinity);
  return {
    databaseUrl: read("databaseUrl") ?? env.DATABASE_URL ?? "sqlite:data/hookline.db",
    sqliteSynchronous: sqliteSynchronous(read("sqliteSynchronous") ?? "NORMAL"),
    postgresSynchronousCommit: postgresSynchronousCommit(read("postgresSynchronousCommit") ?? "on"),
    host,
    port,
    metricsPort: metricsPort ? integer(ENV.metricsPort, metricsPort, 0) : null,
    metricsQueueRefreshMs: parseDuration(read("metricsQueueRefresh") ?? "5s"),
    publicUrl,
    publicUrlConfigured: [read("publicUrl"), read("host"), read("port")].some((value) => value !== undefined),
    roles: roles(read("roles") ?? "api,worker"),
    logLevel: read("logLevel") ?? "info",
    delivery,
    allowedCidrs: allowedCidrs(read("allowedCidrs") ?? ""),
    bodyLimitBytes: integer(ENV.bodyLimit, read("bodyLimit"), 256 * 1024),
    httpLimits: httpLimits(read("requestTimeout") ?? "30s", read("connectionTimeout") ?? "60s", integer(ENV.maxHeaderBytes, read("maxHeaderBytes"), 16 * 1024)),
    messages,
    dailyQuota: dailyQuota(integer(ENV.dailyQuota, read("dailyQuota"), 0), parseDuration(read("quotaWindow") ?? "1d")),
    idempotencyKeyTtlMs,
    consumers: {
      secretRotationOverlapMs: parseDuration(read("secretRotationOverlap") ?? "24h"),
      encryptionKeys: parseEncryptionKeys(read("encryptionKey")),
      listenGraceMs: positive(ENV.listenGrace, parseDuration(read("listenGrace") ?? "15m")),
    },
    limits: {
      consumersPerClient: positive(ENV.maxConsumersPerClient, integer(ENV.maxConsumersPerClient, read("maxConsumersPerClient"), 100)),
      publishFanout: positive(ENV.maxPublishFanout, integer(ENV.maxPublishFanout, read("maxPublishFanout"), 10_000)),
    },
    portal: {
      sessionTtlMs: positive(ENV.portalSessionTtl, parseDuration(read("portalSessionTtl") ?? "8h")),
      accessLinkTtlMs: positive(ENV.portalLinkTtl, parseDuration(read("portalLinkTtl") ?? "5m")),
    },
    transformations: {
      memoryLimitBytes: positive(ENV.transformationMemory, integer(ENV.transformationMemory, read("transformationMemory"), 16)) * 1024 * 1024,
      timeLimitMs: positive(ENV.transformationTimeout, parseDuration(read("transformationTimeout") ?? "50ms")),
    },
    insight: {
      abandonAfterMs: positive(ENV.linkAbandonAfter, parseDuration(read("linkAbandonAfter") ?? "24h")),
      alertIntervalMs: positive(ENV.insightAlertInterval, parseDuration(read("insightAlertInterval") ?? "1m")),
      stepRepeatWindowMs: positive(ENV.linkStepRepeatWindow, parseDuration(read("linkStepRepeatWindow") ?? "10m")),
      stepRetentionMs: retentionPeriod(read("linkStepRetention") ?? "90d"),
    },
    integrations: {
      file: read("integrationsFile") || null,
      refreshIntervalMs: positive(ENV.tokenRefreshInterval, parseDuration(read("tokenRefreshInterval") ?? "1m")),
      refreshAheadMs: parseDuration(read("tokenRefreshAhead") ?? "5m"),
      refreshGraceMs: parseDuration(read("tokenRefreshGrace") ?? "1h"),
      signInTtlMs: positive(ENV.linkSignInTtl, parseDuration(read("linkSignInTtl") ?? "10m")),
    },
  };
}

/** The breaker is off with 0 failures (the default: deliveries then follow their retry schedule whatever the consumer's state). */
function circuitBreaker(failures: number, cooldownMs: number): CircuitBreakerConfig | null {
  if (failures === 0) return null;
  return { failures, cooldownMs: positive(ENV.circuitBreakerCooldown, cooldownMs) };
}
