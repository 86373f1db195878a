/**
 * `npm run bench`: how fast Hookline delivers, beside the two references that
 * give the figures meaning, all measured in the same run on this machine:
 *   - the physical limit: the receiver's own maximum rate under autocannon
 *     with the same body and headers;
 *   - a minimal durable sender on BullMQ and Redis (append-only on).
 * Then Hookline on SQLite (one process), on PostgreSQL (one process, and one
 * API process with two workers), the latency at a steady 1,000 deliveries/s,
 * and the peak memory while 100,000 deliveries are queued. `--only portal`
 * times the portal's activity and log pages over a million logged messages;
 * `--only soak` (and `soak-postgres`) checks that the database's size stays
 * flat at a steady rate over several (compressed) retention periods.
 */
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { Pool } from "undici";
import { sql } from "kysely";
import { v7 } from "uuid";
import { PENDING_DELIVERY_STATUSES, type ConsumerOrdering } from "../src/constants/statuses.ts";
import { loadConfig } from "../src/config.ts";
import { asId, type AttemptId, type ClientId, type ConsumerId, type DeliveryId, type MessageId } from "../src/ids.ts";
import { insertAttempts } from "../src/storage/attempts.ts";
import { Store } from "../src/storage/database.ts";
import { leaseDueDeliveries } from "../src/storage/deliveries/lease.ts";
import { nextDueAt } from "../src/storage/deliveries/next-due.ts";
import { PARKED_AT } from "../src/storage/deliveries/park.ts";
import { deliveryBacklog } from "../src/storage/delivery-backlog.ts";
import { CLI } from "../test/support/cli.ts";
import { freePort, basicAuth } from "../test/support/server.ts";
import { createTestDatabase, encryptionEnvFor, type TestDatabase } from "../test/support/database.ts";
import type { PathBehaviour, PathSamples, ReceiverCommand, ReceiverStats } from "./receiver.ts";

const { values: flags } = parseArgs({
  options: {
    events: { type: "string", default: "8000" },
    consumers: { type: "string", default: "5" },
    "ingest-concurrency": { type: "string", default: "16" },
    "batch-size": { type: "string", default: "100" },
    "sender-concurrency": { type: "string", default: "64" },
    "steady-rate": { type: "string", default: "1000" },
    "steady-seconds": { type: "string", default: "10" },
    "steady-warmup-seconds": { type: "string", default: "3" },
    queued: { type: "string", default: "100000" },
    "ingest-requests": { type: "string", default: "1000" },
    "ingest-publishers": { type: "string", default: "16" },
    backlog: { type: "string", default: "1000000" },
    "noisy-backlog": { type: "string", default: "200000" },
    "noisy-rate": { type: "string", default: "200" },
    "physical-seconds": { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    "portal-messages": { type: "string", default: "1000000" },
    "portal-requests": { type: "string", default: "30" },
    "soak-rate": { type: "string", default: "200" },
    "soak-seconds": { type: "string", default: "150" },
    "soak-retention": { type: "string", default: "20" },
    "soak-sample-seconds": { type: "string", default: "5" },
    only: {
      type: "string",
      default:
        "physical,bullmq,sqlite,postgres,postgres-split,steady,queued,ingest,sqlite-backlog,postgres-backlog,sqlite-fifo,sqlite-fifo-company,sqlite-transform,noisy,portal,soak",
    },
    profile: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(`npm run bench -- [--events 8000] [--consumers 5] [--batch-size 100] [--ingest-concurrency 16] [--sender-concurrency 64]
  [--steady-rate 1000] [--steady-seconds 10] [--steady-warmup-seconds 3] [--queued 100000] [--physical-seconds 5] [--rounds 3]
  [--ingest-requests 1000] [--ingest-publishers 16] [--backlog 1000000] [--noisy-backlog 200000] [--noisy-rate 200]
  [--portal-messages 1000000] [--portal-requests 30]
  [--soak-rate 200] [--soak-seconds 150] [--soak-retention 20] [--soak-sample-seconds 5]
  [--only physical,bullmq,sqlite,postgres,postgres-split,steady,queued,ingest,sqlite-backlog,postgres-backlog,sqlite-fifo,sqlite-fifo-company,sqlite-transform,noisy,portal,portal-postgres,soak,soak-postgres]
  [--profile DIR]   write a V8 CPU profile of every Hookline process into DIR
The throughput scenarios run --rounds times, interleaved, and each figure is the median
of its rounds: the machine's speed drifts, and interleaving puts Hookline and the
references under the same drift.`);
  process.exit(0);
}
const EVENTS = Number(flags.events);
const CONSUMERS = Number(flags.consumers);
const only = new Set(flags.only!.split(","));
const WAIT_LIMIT_MS = 180_000;
const profiling = flags.profile ? ["--cpu-prof", "--cpu-prof-dir", flags.profile] : [];

// ---------------------------------------------------------------- receiver

class ReceiverProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly port: number,
  ) {}

  /**
   * The receiver answers on one port of several loopback addresses, each an
   * origin of its own: a sender keeps a connection pool per origin, so
   * consumers on different hosts share no connections.
   */
  static readonly HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];

  static async start(): Promise<ReceiverProcess> {
    const child = fork(new URL("./receiver.ts", import.meta.url), ReceiverProcess.HOSTS, { execArgv: ["--import", "tsx"] });
    const [ready] = (await once(child, "message")) as [{ port: number }];
    return new ReceiverProcess(child, ready.port);
  }

  /** The receiver's URL on its first address. */
  get url(): string {
    return this.urlOn(0);
  }

  /** The receiver's URL on its `host`-th address, another origin than the others. */
  urlOn(host: number): string {
    return `http://${ReceiverProcess.HOSTS[host]}:${this.port}/hooks`;
  }

  private ask<T>(command: ReceiverCommand): Promise<T> {
    const answer = once(this.child, "message").then(([message]) => message as T);
    this.child.send(command);
    return answer;
  }

  reset(failing = false) {
    return this.ask({ type: "reset", failing });
  }

  stats() {
    return this.ask<ReceiverStats>({ type: "stats" });
  }

  behave(path: string, behaviour: PathBehaviour) {
    return this.ask({ type: "behave", path, behaviour });
  }

  samples(path: string, countOnly = false) {
    return this.ask<PathSamples>({ type: "samples", path, countOnly });
  }

  /** Polls the receiver's counters until `expected` distinct deliveries arrived or the bounded wait ends. */
  async waitForUnique(expected: number): Promise<ReceiverStats> {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    let stats = await this.stats();
    while (stats.unique < expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      stats = await this.stats();
    }
    return stats;
  }

  stop() {
    this.child.kill();
  }
}

// ---------------------------------------------------------------- hookline processes

function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}

class HooklineDeployment {
  private constructor(
    readonly processes: ChildProcess[],
    readonly baseUrl: string,
    readonly apiKey: string,
  ) {}

  static async start(database: TestDatabase, workers: number, env: Record<string, string> = {}): Promise<HooklineDeployment> {
    const port = await freePort();
    const environment = {
      ...process.env,
      HOOKLINE_ALLOWED_CIDRS: "127.0.0.0/8",
      HOOKLINE_LOG_LEVEL: "warn",
      HOOKLINE_DATABASE_URL: database.url,
      HOOKLINE_PORT: String(port),
      ...encryptionEnvFor(database.url),
      ...env,
    };
    const serve = (roles: string, stderr: "inherit" | "pipe" = "inherit") =>
      spawn(process.execPath, [...profiling, CLI, "serve", "--roles", roles], { env: environment, stdio: ["ignore", "ignore", stderr] });
    // The first start prints the API key on standard error, which is passed on as it would otherwise be inherited.
    const api = serve(workers === 0 ? "api,worker" : "api", "pipe");
    let output = "";
    api.stderr!.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      process.stderr.write(chunk);
    });
    while (!/API key \(shown once[^)]*\): (\S+)/.test(output)) {
      const [event] = await Promise.race([once(api.stderr!, "data").then(() => ["data"]), once(api, "exit").then(() => ["exit"])]);
      if (event === "exit") throw new Error(`hookline exited: ${output}`);
    }
    const apiKey = /API key \(shown once[^)]*\): (\S+)/.exec(output)![1]!;
    const processes = [api, ...Array.from({ length: workers }, () => serve("worker"))];
    return new HooklineDeployment(processes, `http://127.0.0.1:${port}`, apiKey);
  }

  peakRssMb(): number[] {
    return this.processes.map((child) => peakRssMb(child.pid!));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(async (child) => {
        if (child.exitCode !== null) return;
        child.kill("SIGTERM");
        await once(child, "exit");
      }),
    );
  }
}

async function call(deployment: HooklineDeployment, method: string, path: string, body: unknown): Promise<{ id: string }> {
  const response = await fetch(`${deployment.baseUrl}${path}`, {
    method,
    headers: { authorization: basicAuth(deployment.apiKey), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as { id: string };
}

/** K consumers of `read.completed`, one per receiver path, and the companies the events are about. */
async function prepare(
  deployment: HooklineDeployment,
  receiver: ReceiverProcess,
  consumers: number,
  ordering: ConsumerOrdering = "unordered",
  transformation: string | null = null,
): Promise<string[]> {
  for (let consumer = 0; consumer < consumers; consumer++) {
    const { id } = await call(deployment, "POST", "/webhooks", { url: `${receiver.url}/${consumer}`, eventTypes: ["read.completed"] });
    if (ordering !== "unordered") await call(deployment, "PATCH", `/webhooks/${id}`, { ordering });
    if (transformation !== null) await call(deployment, "PUT", `/webhooks/${id}/transformation`, { code: transformation });
  }
  const companies = [];
  for (let index = 0; index < 10; index++)
    companies.push((await call(deployment, "POST", "/companies", { name: `Bench ${index}`, tags: { bench: "yes" } })).id);
  return companies;
}

/** A small transformation, as a client reshaping events for a chat receiver would write: the body is replaced, and the receiver still finds the event's id in it. */
const BENCH_TRANSFORMATION = `function handler(webhook) {
  const event = webhook.payload;
  webhook.payload = { id: event.id, text: "Read completed for " + event.payload.dataTypes.length + " data types", eventType: webhook.eventType, generatedDate: event.generatedDate };
  return webhook;
}`;

const readCompleted = (companyId: string) => ({
  eventType: "read.completed",
  companyId,
  payload: { modifiedFromDate: new Date().toISOString(), dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] },
});

/**
 * Publishes `events` read.completed events through the public API, `batchSize`
 * per request (POST /events/batch, or POST /events for 1), paced to
 * `perSecond` when set; returns how long it took in ms.
 */
async function ingest(
  deployment: HooklineDeployment,
  companies: string[],
  options: { events: number; batchSize: number; concurrency: number; perSecond?: number },
): Promise<number> {
  const pool = new Pool(deployment.baseUrl, { connections: options.concurrency });
  const headers = { authorization: basicAuth(deployment.apiKey), "content-type": "application/json" };
  const requests = Math.ceil(options.events / options.batchSize);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < requests) {
        const index = next++;
        if (options.perSecond) {
          const wait = started + ((index * options.batchSize) / options.perSecond) * 1000 - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
        const size = Math.min(options.batchSize, options.events - index * options.batchSize);
        const events = Array.from({ length: size }, (_, offset) => readCompleted(companies[(index + offset) % companies.length]!));
        const body = options.batchSize === 1 ? JSON.stringify(events[0]) : JSON.stringify({ events });
        const response = await pool.request({ path: options.batchSize === 1 ? "/events" : "/events/batch", method: "POST", headers, body });
        const text = await response.body.text();
        if (response.statusCode !== 201) throw new Error(`publish: ${response.statusCode} ${text}`);
      }
    }),
  );
  await pool.close();
  return performance.now() - started;
}

// ---------------------------------------------------------------- scenarios

interface Figures {
  name: string;
  ingestPerSecond?: number;
  deliveriesPerSecond: number;
  latency: ReceiverStats["latencyMs"];
  peakRssMb?: number[];
  duplicates: number;
  losses: number;
}

async function physicalLimit(receiver: ReceiverProcess): Promise<Figures> {
  await receiver.reset();
  const body = JSON.stringify({
    id: "5a3e5a43-2b8f-4f0e-9d55-0d2a0c7d1b9a",
    eventType: "company.created",
    generatedDate: new Date().toISOString(),
    payload: { id: "b0d1c9a8-4c3c-4f37-8e0e-6d9c2c1f0a11", name: "Bench" },
  });
  const result = await autocannon({
    url: `${receiver.url}/0`,
    method: "POST",
    connections: 64,
    duration: Number(flags["physical-seconds"]),
    headers: { "content-type": "application/json", "webhook-id": "msg", "webhook-timestamp": "1700000000", "webhook-signature": `v1,${"A".repeat(43)}=` },
    body,
  });
  return {
    name: "physical limit (autocannon -> receiver)",
    deliveriesPerSecond: result.requests.average,
    latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    duplicates: 0,
    losses: result.non2xx + result.errors,
  };
}

async function bullmqReference(receiver: ReceiverProcess): Promise<Figures | null> {
  if (spawnSync("redis-server", ["--version"]).status !== 0) {
    console.log("BullMQ reference SKIPPED: redis-server is not installed");
    return null;
  }
  const directory = mkdtempSync(join(tmpdir(), "hookline-bench-redis-"));
  const port = await freePort();
  const redis = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--dir", directory],
    { stdio: "ignore" },
  );
  try {
    for (
      let tries = 0;
      spawnSync("redis-cli", ["-p", String(port), "ping"])
        .stdout?.toString()
        .trim() !== "PONG";
      tries++
    ) {
      if (tries > 50) throw new Error("redis-server did not start");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await receiver.reset();
    const started = Date.now();
    const sender = fork(
      new URL("./bullmq-sender.ts", import.meta.url),
      [String(port), receiver.url, String(EVENTS), String(CONSUMERS), flags["sender-concurrency"]!],
      { execArgv: ["--import", "tsx"] },
    );
    const stats = await receiver.waitForUnique(EVENTS * CONSUMERS);
    const rss = peakRssMb(sender.pid!);
    sender.send({ type: "stop" });
    await once(sender, "exit");
    return {
      name: "BullMQ + Redis (AOF) sender",
      deliveriesPerSecond: (stats.unique / ((stats.lastAt ?? Date.now()) - started)) * 1000,
      latency: stats.latencyMs,
      peakRssMb: [rss],
      duplicates: stats.duplicates,
      losses: EVENTS * CONSUMERS - stats.unique,
    };
  } finally {
    redis.kill();
    await once(redis, "exit");
    rmSync(directory, { recursive: true, force: true });
  }
}

interface Load {
  events: number;
  batchSize: number;
  perSecond?: number;
  /** Deliveries already queued (due tomorrow) before the run starts: the claim must stay as fast with them. */
  backlog?: number;
  /** The consumers' ordering: `fifo` sends each one's deliveries one at a time, in event order; `fifo-by-company` so for each of the 10 companies. */
  ordering?: ConsumerOrdering;
  /** A transformation every consumer runs on each delivery; none when absent. */
  transformation?: string | null;
  /** Events published and delivered the same way before the measured ones, so a just-started server's first deliveries (its code not yet optimized, its connections to the receiver not yet open) are not measured. */
  warmupEvents?: number;
}

/** One run: a fresh database and deployment, K consumers, E published events, figures from the receiver. */
async function hookline(name: string, dialect: "sqlite" | "postgres", workers: number, receiver: ReceiverProcess, load: Load): Promise<Figures> {
  const database = await createTestDatabase(dialect);
  if (load.backlog) await queueBacklog(database, load.backlog);
  const deployment = await HooklineDeployment.start(database, workers);
  try {
    const companies = await prepare(deployment, receiver, CONSUMERS, load.ordering, load.transformation);
    if (load.warmupEvents) {
      await receiver.reset();
      await ingest(deployment, companies, { ...load, events: load.warmupEvents, concurrency: Number(flags["ingest-concurrency"]) });
      const warmed = await receiver.waitForUnique(load.warmupEvents * CONSUMERS);
      // Late warm-up deliveries would count in the measured run.
      if (warmed.unique < load.warmupEvents * CONSUMERS)
        throw new Error(`${name}: the warm-up did not finish (${warmed.unique} of ${load.warmupEvents * CONSUMERS} delivered)`);
    }
    await receiver.reset();
    const started = Date.now();
    const ingestMs = await ingest(deployment, companies, { ...load, concurrency: Number(flags["ingest-concurrency"]) });
    const stats = await receiver.waitForUnique(load.events * CONSUMERS);
    return {
      name,
      ingestPerSecond: (load.events / ingestMs) * 1000,
      deliveriesPerSecond: (stats.unique / ((stats.lastAt ?? Date.now()) - started)) * 1000,
      latency: stats.latencyMs,
      peakRssMb: deployment.peakRssMb(),
      duplicates: stats.duplicates,
      losses: load.events * CONSUMERS - stats.unique,
    };
  } finally {
    await deployment.stop();
    await database.drop();
  }
}

interface IngestFigures {
  name: string;
  publishers: number;
  requestsPerSecond: number;
  latency: { p50: number; p99: number };
}

/**
 * What clients publishing one event per request see while the worker
 * delivers them: `publishers` clients each sending one request at a time,
 * each request's latency and the requests per second they get together.
 */
async function ingestLatency(
  name: string,
  dialect: "sqlite" | "postgres",
  env: Record<string, string>,
  publishers: number,
  receiver: ReceiverProcess,
): Promise<IngestFigures> {
  const database = await createTestDatabase(dialect);
  const deployment = await HooklineDeployment.start(database, 0, env);
  const pool = new Pool(deployment.baseUrl, { connections: publishers });
  try {
    const [companyId] = await prepare(deployment, receiver, 1);
    const headers = { authorization: basicAuth(deployment.apiKey), "content-type": "application/json" };
    const requests = Number(flags["ingest-requests"]);
    await receiver.reset();
    const latencies: number[] = [];
    let next = 0;
    const publisher = async () => {
      while (next < requests) {
        next++;
        const sent = performance.now();
        const response = await pool.request({ path: "/events", method: "POST", headers, body: JSON.stringify(readCompleted(companyId!)) });
        const text = await response.body.text();
        if (response.statusCode !== 201) throw new Error(`publish: ${response.statusCode} ${text}`);
        latencies.push(performance.now() - sent);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: publishers }, publisher));
    const elapsed = performance.now() - started;
    await receiver.waitForUnique(requests);
    latencies.sort((a, b) => a - b);
    const at = (quantile: number) => latencies[Math.min(latencies.length - 1, Math.floor(quantile * latencies.length))]!;
    return { name, publishers, requestsPerSecond: (requests / elapsed) * 1000, latency: { p50: at(0.5), p99: at(0.99) } };
  } finally {
    await pool.close();
    await deployment.stop();
    await database.drop();
  }
}

/**
 * Fills a migrated database with `deliveries` deliveries of one message,
 * due a day from now, as a consumer that was down for long would have
 * queued: written straight into the tables, since publishing a million
 * events through the API would take longer than the runs it sets up.
 * Reports how long the queries that meet every pending delivery take.
 */
async function queueBacklog(database: TestDatabase, deliveries: number): Promise<void> {
  const store = await Store.open(database.url);
  try {
    await store.migrate();
    const now = Date.now();
    await store.db
      .insertInto("messages")
      .values({
        id: asId<MessageId>("00000000-0000-7000-8000-000000000000"),
        client_id: asId<ClientId>("backlog"),
        event_type: "read.completed",
        company_id: null,
        body: "{}",
        created_at: now,
        payload_purged_at: null,
        example: 0,
      })
      .execute();
    for (let start = 0; start < deliveries; start += 10_000) {
      await store.transaction(async ({ tx }) => {
        for (let offset = start; offset < Math.min(start + 10_000, deliveries); offset += 1000) {
          const rows = Array.from({ length: Math.min(1000, deliveries - offset) }, (_, index) => ({
            id: asId<DeliveryId>(`00000000-0000-7000-8000-${String(offset + index).padStart(12, "0")}`),
            client_id: asId<ClientId>("backlog"),
            message_id: asId<MessageId>("00000000-0000-7000-8000-000000000000"),
            consumer_id: asId<ConsumerId>(`backlog-${offset + index}`),
            status: "Attempting" as const,
            attempt_count: 1,
            next_attempt_at: now + 86_400_000 + offset + index,
            created_at: now,
            updated_at: now,
          }));
          await tx.insertInto("deliveries").values(rows).execute();
        }
      });
    }
    if (dialectOfUrl(database.url) === "postgres") await sql`ANALYZE`.execute(store.db);
    const timed = async (what: () => Promise<unknown>) => {
      const started = performance.now();
      await what();
      return fixed(performance.now() - started, 1);
    };
    const gauge = await timed(() => deliveryBacklog(store.db));
    const claim = await timed(() => store.writeStatement((db) => leaseDueDeliveries(db, "bench", Date.now(), 60_000, 256)));
    const nextDue = await timed(() => nextDueAt(store.db));
    process.stdout.write(`(${deliveries} queued: queue gauges ${gauge} ms, a claim ${claim} ms, next due ${nextDue} ms) `);
  } finally {
    await store.close();
  }
}

const dialectOfUrl = (url: string) => (url.startsWith("postgres") ? "postgres" : "sqlite");

/** Peak memory while `queued` deliveries wait: the receiver answers 503, so every delivery stays scheduled for a retry. */
async function queuedMemory(receiver: ReceiverProcess): Promise<{ queued: number; peakRssMb: number[] }> {
  const consumers = 10;
  const events = Math.ceil(Number(flags.queued) / consumers);
  const database = await createTestDatabase("sqlite");
  const deployment = await HooklineDeployment.start(database, 0, { HOOKLINE_RETRY_SCHEDULE: "10m" });
  try {
    const companies = await prepare(deployment, receiver, consumers);
    await receiver.reset(true);
    await ingest(deployment, companies, { events, batchSize: Number(flags["batch-size"]), concurrency: Number(flags["ingest-concurrency"]) });
    for (let stats = await receiver.stats(); stats.requests < events * consumers; stats = await receiver.stats()) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { queued: events * consumers, peakRssMb: deployment.peakRssMb() };
  } finally {
    await deployment.stop();
    await database.drop();
    await receiver.reset();
  }
}

interface NoisyFigures {
  backlog: number;
  rate: number;
  /** B's latency while A is down and gathers its backlog, while A catches up, and after. */
  phases: Array<{ name: string; deliveries: number; p50: number; p99: number; max: number }>;
  catchUpPerSecond: number;
  catchUpSeconds: number;
  slowMostOpen: number;
  slowReceived: number;
}

/** Polls `read` every 500 ms until `done`, or fails past the bench's bounded wait. */
async function pollUntil<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 4 * WAIT_LIMIT_MS;
  for (let value = await read(); ; value = await read()) {
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`noisy neighbour: gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * The noisy neighbour, on SQLite in one process with the circuit breaker on:
 * consumer A is down (503) and gathers --noisy-backlog held deliveries while
 * consumer B receives a steady --noisy-rate events/s, one publish each, and
 * consumer C, subscribed to the same events as B, answers each after 10 s.
 * Then A recovers: its next probe succeeds, its circuit closes and its whole
 * backlog falls due at once. Reports B's latency before, during and after
 * A's catch-up, A's catch-up rate, and the most attempts C had open at once.
 */
async function noisyNeighbour(receiver: ReceiverProcess): Promise<NoisyFigures> {
  const backlog = Number(flags["noisy-backlog"]);
  const rate = Number(flags["noisy-rate"]);
  const database = await createTestDatabase("sqlite");
  const deployment = await HooklineDeployment.start(database, 0, { HOOKLINE_CIRCUIT_BREAKER_FAILURES: "3", HOOKLINE_CIRCUIT_BREAKER_COOLDOWN: "2s" });
  const pool = new Pool(deployment.baseUrl, { connections: 8 });
  try {
    await receiver.reset();
    await receiver.behave("/hooks/a", { status: 503 });
    await receiver.behave("/hooks/c", { delayMs: 10_000 });
    // Each on a host of its own, as three consumers' receivers would be: they share no connections.
    const subscribe = (host: number, path: string, tag: string) =>
      call(deployment, "POST", "/webhooks", { url: `${receiver.urlOn(host)}/${path}`, eventTypes: ["read.completed"], companyTags: [tag] });
    const consumerA = (await subscribe(0, "a", "bench:a")).id;
    await subscribe(1, "b", "bench:b");
    await subscribe(2, "c", "bench:b");
    const companyA = (await call(deployment, "POST", "/companies", { name: "Noisy A", tags: { bench: "a" } })).id;
    const companyB = (await call(deployment, "POST", "/companies", { name: "Steady B", tags: { bench: "b" } })).id;

    // B's steady stream, one publish per event, paced from its start; several in flight so one slow answer does not hold the pace.
    const headers = { authorization: basicAuth(deployment.apiKey), "content-type": "application/json" };
    let streaming = true;
    const streamStarted = performance.now();
    let published = 0;
    const stream = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (streaming) {
          const index = published++;
          const wait = streamStarted + (index / rate) * 1000 - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          const response = await pool.request({ path: "/events", method: "POST", headers, body: JSON.stringify(readCompleted(companyB)) });
          await response.body.text();
          if (response.statusCode !== 201) throw new Error(`publish: ${response.statusCode}`);
        }
      }),
    );

    await ingest(deployment, [companyA], { events: backlog, batchSize: 100, concurrency: 4 });
    // Read from the database: the parked gauge counts C's deliveries waiting for its slots too.
    const store = await Store.open(database.url);
    const parkedOfA = async () => {
      const { count } = await store.db
        .selectFrom("deliveries")
        .select((eb) => eb.fn.countAll<number>().as("count"))
        .where("consumer_id", "=", asId<ConsumerId>(consumerA))
        .where("next_attempt_at", "=", PARKED_AT)
        .executeTakeFirstOrThrow();
      return Number(count);
    };
    await pollUntil("A's backlog held", parkedOfA, (parked) => parked >= backlog - 1).finally(() => store.close());
    const recovered = Date.now();
    await receiver.behave("/hooks/a", { status: 204 });
    const drained = await pollUntil(
      "A's backlog delivered",
      () => receiver.samples("/hooks/a", true),
      ({ count }) => count >= backlog,
    );
    const caughtUp = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    streaming = false;
    await stream;
    await pollUntil(
      "B's last events",
      () => receiver.samples("/hooks/b", true),
      ({ count }) => count >= published - 8,
    );
    const b = await receiver.samples("/hooks/b");
    const slow = await receiver.samples("/hooks/c");
    // C's first attempts, until the first has been out for the slow-consumer time: what the worker does before it
    // knows C for slow, apart from the rest of the phase.
    const knownSlow = (slow.arrivals[0] ?? 0) + loadConfig({}).delivery.slowConsumerMs;
    // Each of B's events counts in the phase it was published in (its arrival less its latency).
    const phase = (name: string, from: number, to: number) => {
      const publishedIn = (index: number) => b.arrivals[index]! - b.latencies[index]! >= from && b.arrivals[index]! - b.latencies[index]! < to;
      const latencies = b.latencies.filter((_, index) => publishedIn(index)).sort((x, y) => x - y);
      const at = (quantile: number) => latencies[Math.min(latencies.length - 1, Math.floor(quantile * latencies.length))] ?? NaN;
      return { name, deliveries: latencies.length, p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] ?? NaN };
    };
    const catchUpSeconds = (caughtUp - recovered) / 1000;
    return {
      backlog,
      rate,
      phases: [
        phase("before: C's first attempts (slow-consumer time)", 0, knownSlow),
        phase("before: A down, gathering its backlog", knownSlow, recovered),
        phase("during: A catching up", recovered, caughtUp),
        phase("after", caughtUp, Number.POSITIVE_INFINITY),
      ],
      catchUpPerSecond: drained.count / catchUpSeconds,
      catchUpSeconds,
      slowMostOpen: slow.mostOpen,
      slowReceived: slow.count,
    };
  } finally {
    await pool.close();
    await deployment.stop();
    await database.drop();
    await receiver.reset();
  }
}

// ---------------------------------------------------------------- portal pages

interface PortalFigures {
  dialect: "sqlite" | "postgres";
  messages: number;
  fillSeconds: number;
  pages: Array<{ name: string; p50: number; p99: number }>;
}

/**
 * The portal's activity and log pages over `messages` logged messages to one
 * consumer, spread evenly over the last 7 days, each with its delivery and one
 * attempt (every tenth failed). The rows are written straight into the tables
 * (publishing a million events through the API would take longer than the run);
 * the attempts go through the storage operation the worker records them with,
 * so the activity's hourly counts are kept as in production. Each page is then
 * requested --portal-requests times over HTTP with a signed-in session, one at
 * a time after a warm-up, and timed from request to last byte on loopback.
 */
async function portalPages(dialect: "sqlite" | "postgres"): Promise<PortalFigures> {
  const messages = Number(flags["portal-messages"]);
  const database = await createTestDatabase(dialect);
  const deployment = await HooklineDeployment.start(database, 0);
  const store = await Store.open(database.url);
  try {
    const { id: consumerId } = await call(deployment, "POST", "/webhooks", {
      url: "http://127.0.0.1:9/hooks",
      eventTypes: ["read.completed", "company.created"],
    });
    const client = await store.db.selectFrom("consumers").select("client_id").where("id", "=", asId<ConsumerId>(consumerId)).executeTakeFirstOrThrow();
    const clientId = client.client_id;
    const fillStarted = performance.now();
    const span = 7 * 86_400_000;
    const first = Date.now() - span;
    const eventTypes = ["read.completed", "company.created", "connection.connected"];
    for (let start = 0; start < messages; start += 10_000) {
      await store.transaction(async ({ tx }) => {
        for (let offset = start; offset < Math.min(start + 10_000, messages); offset += 1000) {
          const rows = Array.from({ length: Math.min(1000, messages - offset) }, (_, index) => {
            const number = offset + index;
            const createdAt = first + Math.floor((number * span) / messages);
            const failed = number % 10 === 0;
            return {
              number,
              createdAt,
              failed,
              messageId: asId<MessageId>(v7({ msecs: createdAt, seq: number })),
              deliveryId: asId<DeliveryId>(v7({ msecs: createdAt, seq: number })),
            };
          });
          await tx
            .insertInto("messages")
            .values(
              rows.map((row) => ({
                id: row.messageId,
                client_id: clientId,
                event_type: eventTypes[row.number % eventTypes.length]!,
                company_id: null,
                body: `{"id":"${row.messageId}","eventType":"${eventTypes[row.number % eventTypes.length]}","payload":{"n":${row.number}}}`,
                created_at: row.createdAt,
                payload_purged_at: null,
                example: 0,
              })),
            )
            .execute();
          await tx
            .insertInto("deliveries")
            .values(
              rows.map((row) => ({
                id: row.deliveryId,
                client_id: clientId,
                message_id: row.messageId,
                consumer_id: asId<ConsumerId>(consumerId),
                status: row.failed ? ("Failure" as const) : ("Success" as const),
                attempt_count: 1,
                next_attempt_at: null,
                created_at: row.createdAt,
                updated_at: row.createdAt + 50,
              })),
            )
            .execute();
          await insertAttempts(
            tx,
            rows.map((row) => ({
              id: asId<AttemptId>(v7({ msecs: row.createdAt + 10, seq: row.number })),
              client_id: clientId,
              delivery_id: row.deliveryId,
              message_id: row.messageId,
              consumer_id: asId<ConsumerId>(consumerId),
              attempt_number: 1,
              started_at: row.createdAt + 10,
              duration_ms: 40,
              status_code: row.failed ? 500 : 200,
              response_excerpt: row.failed ? "Internal Server Error" : "OK",
              error: null,
              succeeded: row.failed ? 0 : 1,
            })),
          );
        }
      });
    }
    if (dialect === "postgres") await sql`ANALYZE`.execute(store.db);
    const fillSeconds = (performance.now() - fillStarted) / 1000;

    // Signed in as a person is, through the sign-in form; the session cookie goes with every request.
    const signIn = await fetch(`${deployment.baseUrl}/portal/sign-in`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: deployment.baseUrl },
      body: new URLSearchParams({ apiKey: deployment.apiKey }).toString(),
    });
    const cookie = signIn.headers
      .getSetCookie()
      .map((header) => header.split(";")[0])
      .join("; ");
    if (signIn.status !== 303 || cookie === "") throw new Error(`portal sign-in: ${signIn.status} ${await signIn.text()}`);
    const consumerPage = `/portal/consumers/${consumerId}`;
    const firstPage = await fetch(`${deployment.baseUrl}${consumerPage}`, { headers: { cookie } });
    const cursor = /[?&]cursor=([^&"#]+)/.exec(await firstPage.text())?.[1];
    const pages: Array<[string, string]> = [
      ["activity, last 6 h", "/portal/activity?period=6h"],
      ["activity, last 24 h", "/portal/activity?period=24h"],
      ["activity, last 7 days", "/portal/activity?period=7d"],
      ["activity of the consumer, last 7 days", `/portal/activity?period=7d&consumer=${consumerId}`],
      ["log, first page", consumerPage],
      ...(cursor === undefined ? [] : ([["log, second page (cursor)", `${consumerPage}?cursor=${cursor}`]] as Array<[string, string]>)),
      ["log, failed only", `${consumerPage}?status=Failure`],
      [
        "log, one event type, failed, since 3 days",
        `${consumerPage}?status=Failure&eventType=company.created&since=${new Date(Date.now() - 3 * 86_400_000).toISOString()}`,
      ],
    ];
    const figures: PortalFigures["pages"] = [];
    for (const [name, path] of pages) {
      const times: number[] = [];
      for (let request = -2; request < Number(flags["portal-requests"]); request++) {
        const started = performance.now();
        const response = await fetch(`${deployment.baseUrl}${path}`, { headers: { cookie } });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
        if (request >= 0) times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      figures.push({ name, p50: median(times), p99: times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)]! });
    }
    return { dialect, messages, fillSeconds, pages: figures };
  } finally {
    await store.close();
    await deployment.stop();
    await database.drop();
  }
}

// ---------------------------------------------------------------- soak: bounded storage

/** The soak's verdict: the size may grow by at most this much after the warm-up and still be flat. */
const FLAT_GROWTH = 0.15;

interface SoakSample {
  /** Seconds since publishing began. */
  at: number;
  /** On disk: the SQLite file and its WAL, or PostgreSQL's database (pg_database_size, without the server-wide WAL). */
  bytes: number;
  /** The rows' part of `bytes`: SQLite's file without the WAL (whose size is bounded by its checkpoints); PostgreSQL's messages, deliveries and attempts with their indexes and TOAST. */
  partBytes: number;
  messages: number;
  deliveries: number;
  attempts: number;
  pending: number;
  /** How old the oldest message is, in s: past the retention by more than the job's interval, the deletes fall behind. */
  oldestSeconds: number;
  rssMb: number;
  /** Latency of the deliveries that arrived since the previous sample, from publish to receiver. */
  p50: number;
  p99: number;
}

interface SoakFigures {
  dialect: "sqlite" | "postgres";
  rate: number;
  consumers: number;
  retentionSeconds: number;
  /** When the warm-up ends and the comparison starts: the end of the second retention period, or later on PostgreSQL (see soak()). */
  warmupSeconds: number;
  /** Set when the server's autovacuum was off and the bench vacuumed the tables itself, this often. */
  vacuumEveryMs: number | null;
  samples: SoakSample[];
  published: number;
  delivered: number;
  duplicates: number;
}

const currentRssMb = (pid: number) => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
};
const fileBytes = (path: string) => (existsSync(path) ? statSync(path).size : 0);

/**
 * Bounded storage: the real server with retention compressed by configuration
 * (messages kept --soak-retention seconds, payloads half that, the retention
 * job every tenth of it) while events are published at a steady --soak-rate
 * to two consumers for --soak-seconds, several retention periods. Every
 * --soak-sample-seconds it samples the size on disk, the row counts, the
 * server's RSS and the latency of the deliveries since the last sample. The
 * size is flat when its largest sample in the last retention period is at
 * most FLAT_GROWTH above the size at the end of the warm-up, in all and in
 * the rows' part alone (the WAL could hide a growing file): a verdict on
 * sizes, which a busy machine slows but does not change, unless the server
 * falls behind the rate (pending deliveries keep their messages), which the
 * report says instead of a verdict.
 */
async function soak(dialect: "sqlite" | "postgres", receiver: ReceiverProcess): Promise<SoakFigures> {
  const rate = Number(flags["soak-rate"]);
  const seconds = Number(flags["soak-seconds"]);
  const retentionSeconds = Number(flags["soak-retention"]);
  const sampleMs = Number(flags["soak-sample-seconds"]) * 1000;
  const consumers = 2;
  const database = await createTestDatabase(dialect);
  const deployment = await HooklineDeployment.start(database, 0, {
    HOOKLINE_MESSAGE_RETENTION: `${retentionSeconds}s`,
    HOOKLINE_PAYLOAD_RETENTION: `${retentionSeconds / 2}s`,
    HOOKLINE_RETENTION_INTERVAL: `${(retentionSeconds * 100).toFixed(0)}ms`,
  });
  const store = await Store.open(database.url);
  try {
    // PostgreSQL's autovacuum looks at each database once per autovacuum_naptime (a server-wide setting, 1 min by
    // default): until its first visits the dead rows pile up, so the warm-up lasts two naptimes when that is longer.
    let warmupSeconds = 2 * retentionSeconds;
    let vacuumEveryMs: number | null = null;
    if (dialect === "postgres") {
      const { rows } = await sql<{ name: string; setting: string }>`SELECT name, setting FROM pg_settings
        WHERE name IN ('autovacuum', 'autovacuum_naptime')`.execute(store.db);
      const setting = (name: string) => rows.find((row) => row.name === name)!.setting;
      warmupSeconds = Math.max(warmupSeconds, 2 * Number(setting("autovacuum_naptime")));
      // A server with autovacuum off (a test server may be run so) never reclaims the deleted rows: the bench then
      // does autovacuum's work, a plain VACUUM of the three tables once per naptime, and says so.
      if (setting("autovacuum") === "off") vacuumEveryMs = Number(setting("autovacuum_naptime")) * 1000;
    }
    if (warmupSeconds + retentionSeconds > seconds)
      throw new Error(`soak: --soak-seconds ${seconds} leaves no retention period after a ${warmupSeconds} s warm-up`);
    const companies = await prepare(deployment, receiver, consumers);
    await receiver.reset();
    const sqlitePath = database.url.slice("sqlite:".length);
    const size = async (): Promise<{ bytes: number; partBytes: number }> => {
      if (dialect === "sqlite") {
        const file = fileBytes(sqlitePath);
        return { bytes: file + fileBytes(`${sqlitePath}-wal`), partBytes: file };
      }
      const { rows } = await sql<{ bytes: string; tables: string }>`SELECT pg_database_size(current_database()) AS bytes,
        pg_total_relation_size('messages') + pg_total_relation_size('deliveries') + pg_total_relation_size('attempts') AS tables`.execute(store.db);
      return { bytes: Number(rows[0]!.bytes), partBytes: Number(rows[0]!.tables) };
    };
    const count = async (table: "messages" | "deliveries" | "attempts") =>
      Number(
        (
          await store.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<number>().as("count"))
            .executeTakeFirstOrThrow()
        ).count,
      );
    const pending = async () =>
      Number(
        (
          await store.db
            .selectFrom("deliveries")
            .select((eb) => eb.fn.countAll<number>().as("count"))
            .where("status", "in", PENDING_DELIVERY_STATUSES)
            .executeTakeFirstOrThrow()
        ).count,
      );

    const oldest = async () => {
      const { first } = await store.db
        .selectFrom("messages")
        .select((eb) => eb.fn.min("created_at").as("first"))
        .executeTakeFirstOrThrow();
      return first === null ? 0 : (Date.now() - Number(first)) / 1000;
    };
    const started = Date.now();
    const samples: Array<Omit<SoakSample, "p50" | "p99">> = [];
    let publishing = true;
    const vacuuming = (async () => {
      if (vacuumEveryMs === null) return;
      for (let next = started + vacuumEveryMs; publishing; next += vacuumEveryMs) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
        if (publishing) await sql`VACUUM messages, deliveries, attempts`.execute(store.db);
      }
    })();
    const sampling = (async () => {
      for (let next = started + sampleMs; publishing; next += sampleMs) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
        if (!publishing) break;
        const at = (Date.now() - started) / 1000;
        samples.push({
          at,
          ...(await size()),
          messages: await count("messages"),
          deliveries: await count("deliveries"),
          attempts: await count("attempts"),
          pending: await pending(),
          oldestSeconds: await oldest(),
          rssMb: currentRssMb(deployment.processes[0]!.pid!),
        });
      }
    })();
    const events = Math.round(rate * seconds);
    await ingest(deployment, companies, { events, batchSize: 10, perSecond: rate, concurrency: 8 });
    publishing = false;
    await Promise.all([sampling, vacuuming]);
    const stats = await receiver.waitForUnique(events * consumers);

    // Each sample's latencies: those of the deliveries that arrived since the one before.
    // One question at a time: the receiver's answers are matched to questions by their order.
    const paths: PathSamples[] = [];
    for (let consumer = 0; consumer < consumers; consumer++) paths.push(await receiver.samples(`/hooks/${consumer}`));
    const latencyBetween = (from: number, to: number) => {
      const latencies = paths
        .flatMap(({ arrivals, latencies }) => latencies.filter((_, index) => arrivals[index]! >= from && arrivals[index]! < to))
        .sort((a, b) => a - b);
      const at = (quantile: number) => latencies[Math.min(latencies.length - 1, Math.floor(quantile * latencies.length))] ?? NaN;
      return { p50: at(0.5), p99: at(0.99) };
    };
    return {
      dialect,
      rate,
      consumers,
      retentionSeconds,
      warmupSeconds,
      vacuumEveryMs,
      samples: samples.map((sample, index) => ({
        ...sample,
        ...latencyBetween(started + (index === 0 ? 0 : samples[index - 1]!.at * 1000), started + sample.at * 1000),
      })),
      published: events,
      delivered: stats.unique,
      duplicates: stats.duplicates,
    };
  } finally {
    await store.close();
    await deployment.stop();
    await database.drop();
    await receiver.reset();
  }
}

/** The size at the end of the warm-up against the largest in the last retention period, in all and the rows' part, and whether the server kept up. */
function soakVerdict(run: SoakFigures): { reference: SoakSample; peak: SoakSample; growth: number; partGrowth: number; verdict: string } {
  const { samples, retentionSeconds, warmupSeconds } = run;
  const end = samples[samples.length - 1]!;
  const reference = samples.reduce((best, sample) => (Math.abs(sample.at - warmupSeconds) < Math.abs(best.at - warmupSeconds) ? sample : best));
  const peak = samples.filter((sample) => sample.at >= end.at - retentionSeconds).reduce((best, sample) => (sample.bytes > best.bytes ? sample : best));
  const growth = peak.bytes / reference.bytes - 1;
  const partPeak = Math.max(...samples.filter((sample) => sample.at >= end.at - retentionSeconds).map((sample) => sample.partBytes));
  const partGrowth = partPeak / reference.partBytes - 1;
  // Deliveries still pending keep their messages: more than 5 s of the rate's deliveries pending means the server fell behind, not that retention failed.
  const late = samples.filter((sample) => sample.at >= reference.at);
  const behind = late.filter((sample) => sample.pending > 5 * run.rate * run.consumers).length;
  // So do deletes that cannot keep up with the rate (a machine too busy): the rows, and the size with them, grow.
  const oldest = Math.max(...late.map((sample) => sample.oldestSeconds));
  const verdict =
    behind > 0
      ? `no verdict: the server fell behind the rate (${behind} samples with over 5 s of deliveries pending), lower --soak-rate`
      : oldest > 1.5 * retentionSeconds
        ? `no verdict: the deletes fell behind the rate (a message ${fixed(oldest)} s old against a retention of ${retentionSeconds} s), lower --soak-rate`
        : Math.max(growth, partGrowth) <= FLAT_GROWTH
          ? `FLAT (within ${FLAT_GROWTH * 100}%)`
          : `NOT FLAT (more than ${FLAT_GROWTH * 100}%)`;
  return { reference, peak, growth, partGrowth, verdict };
}

function printSoak(run: SoakFigures): void {
  const mb = (bytes: number) => fixed(bytes / 1_048_576, 1);
  const { reference, peak, growth, partGrowth, verdict } = soakVerdict(run);
  const part = run.dialect === "sqlite" ? "file MB" : "tables MB";
  const percent = (value: number) => `${value >= 0 ? "+" : ""}${fixed(value * 100, 1)}%`;
  console.log(
    `\nSoak (${run.dialect}, 1 process): ${run.rate} events/s to ${run.consumers} consumers for ${fixed(run.samples.at(-1)?.at)} s, ` +
      `messages kept ${run.retentionSeconds} s, payloads ${run.retentionSeconds / 2} s, retention job every ${run.retentionSeconds / 10} s; ` +
      `${run.delivered} of ${run.published * run.consumers} delivered, ${run.duplicates} duplicates` +
      (run.vacuumEveryMs === null ? "" : `; autovacuum is off on this server, so the bench ran VACUUM every ${run.vacuumEveryMs / 1000} s in its place`),
  );
  const header = ["s", "size MB", part, "messages", "deliveries", "attempts", "pending", "oldest s", "RSS MB", "p50 ms", "p99 ms"];
  // At most about 16 rows: every sample of a short run, every n-th of a long one, always the reference, the peak and the last.
  const every = Math.max(1, Math.ceil(run.samples.length / 16));
  const shown = run.samples.filter(
    (sample, index) => index % every === every - 1 || sample === reference || sample === peak || index === run.samples.length - 1,
  );
  const lines = shown.map((sample) => [
    fixed(sample.at) + (sample === reference ? " warm" : sample === peak ? " peak" : ""),
    mb(sample.bytes),
    mb(sample.partBytes),
    String(sample.messages),
    String(sample.deliveries),
    String(sample.attempts),
    String(sample.pending),
    fixed(sample.oldestSeconds),
    String(sample.rssMb),
    fixed(sample.p50),
    fixed(sample.p99),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: string[]) => cells.map((cell, column) => cell.padStart(widths[column]!)).join("  ");
  console.log(format(header));
  for (const line of lines) console.log(format(line));
  console.log(
    `  size at the end of the warm-up (${fixed(reference.at)} s): ${mb(reference.bytes)} MB; largest in the last ${run.retentionSeconds} s: ${mb(peak.bytes)} MB ` +
      `(${percent(growth)}; ${part.replace(" MB", "")} ${percent(partGrowth)}): ${verdict}`,
  );
}

// ---------------------------------------------------------------- report

const fixed = (value: number | undefined, digits = 0) => (value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits));

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One scenario over its rounds: the run with the median rate, and the medians of its per-round ratios to the references. */
interface Summary {
  figures: Figures;
  rates: number[];
  toPhysical?: number;
  toBullmq?: number;
}

function summarize(rounds: Figures[], physical: Figures[], bullmq: Figures[]): Summary {
  const rates = rounds.map((run) => run.deliveriesPerSecond);
  const figures = rounds.slice().sort((a, b) => a.deliveriesPerSecond - b.deliveriesPerSecond)[Math.floor((rounds.length - 1) / 2)]!;
  const ratio = (references: Figures[]) =>
    references.length === rounds.length ? median(rounds.map((run, round) => run.deliveriesPerSecond / references[round]!.deliveriesPerSecond)) : undefined;
  return { figures, rates, toPhysical: ratio(physical), toBullmq: ratio(bullmq) };
}

function printTable(rows: Summary[]): void {
  console.log(
    `\nE = ${EVENTS} events x K = ${CONSUMERS} consumers = ${EVENTS * CONSUMERS} deliveries per run; throughput rows are medians of ${ROUNDS} interleaved rounds\n`,
  );
  const header = ["scenario", "ingest ev/s", "deliveries/s", "x physical", "x BullMQ", "p50 ms", "p90 ms", "p99 ms", "peak RSS MB", "dup", "lost"];
  const lines = rows.map(({ figures: row, toPhysical, toBullmq }) => [
    row.name,
    fixed(row.ingestPerSecond),
    fixed(row.deliveriesPerSecond),
    fixed(toPhysical, 2),
    fixed(toBullmq, 2),
    fixed(row.latency?.p50),
    fixed(row.latency?.p90),
    fixed(row.latency?.p99),
    row.peakRssMb?.join(" + ") ?? "-",
    String(row.duplicates),
    String(row.losses),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ");
  console.log(format(header));
  console.log(widths.map((width) => "-".repeat(width)).join("  "));
  for (const line of lines) console.log(format(line));
  const rounds = rows.filter((row) => row.rates.length > 1);
  if (rounds.length > 0) {
    console.log("\ndeliveries/s of each round:");
    for (const row of rounds) console.log(`  ${row.figures.name.padEnd(widths[0]!)}  ${row.rates.map((rate) => fixed(rate)).join("  ")}`);
  }
}

const ROUNDS = Number(flags.rounds);
const benchStarted = performance.now();
const receiver = await ReceiverProcess.start();
const runs = new Map<string, Figures[]>();
let steady: Figures | undefined;
let queued: Awaited<ReturnType<typeof queuedMemory>> | undefined;
let noisy: NoisyFigures | undefined;
const portalRuns: PortalFigures[] = [];
const ingestRuns: IngestFigures[] = [];
const soakRuns: SoakFigures[] = [];
try {
  const step = async <T>(key: string, label: string, run: () => Promise<T>): Promise<T | undefined> => {
    if (!only.has(key)) return undefined;
    process.stdout.write(`running: ${label} ... `);
    const started = performance.now();
    const result = await run();
    console.log(`done in ${fixed((performance.now() - started) / 1000, 1)} s`);
    return result;
  };
  const scenarios: Array<[key: string, label: string, run: () => Promise<Figures | null>]> = [
    ["physical", "physical limit", () => physicalLimit(receiver)],
    ["bullmq", "BullMQ reference", () => bullmqReference(receiver)],
    ...(
      [
        ["sqlite", "Hookline SQLite, 1 process", "sqlite", 0, 0, "unordered"],
        ["postgres", "Hookline PostgreSQL, 1 process", "postgres", 0, 0, "unordered"],
        ["postgres-split", "Hookline PostgreSQL, 1 API + 2 workers", "postgres", 2, 0, "unordered"],
        ["sqlite-backlog", `Hookline SQLite, 1 process, ${flags.backlog} queued`, "sqlite", 0, Number(flags.backlog), "unordered"],
        ["postgres-backlog", `Hookline PostgreSQL, 1 process, ${flags.backlog} queued`, "postgres", 0, Number(flags.backlog), "unordered"],
        ["sqlite-fifo", "Hookline SQLite, 1 process, fifo consumers", "sqlite", 0, 0, "fifo"],
        ["sqlite-fifo-company", "Hookline SQLite, 1 process, fifo-by-company consumers (10 companies)", "sqlite", 0, 0, "fifo-by-company"],
        ["sqlite-transform", "Hookline SQLite, 1 process, a transformation on every consumer", "sqlite", 0, 0, "unordered", BENCH_TRANSFORMATION],
      ] as const
    ).map(([key, name, dialect, workers, backlog, ordering, transformation]): [string, string, () => Promise<Figures>] => [
      key,
      name,
      () => hookline(name, dialect, workers, receiver, { events: EVENTS, batchSize: Number(flags["batch-size"]), backlog, ordering, transformation }),
    ]),
  ];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [key, label, run] of scenarios) {
      const figures = await step(key, `${label} (round ${round} of ${ROUNDS})`, run);
      if (figures) runs.set(key, [...(runs.get(key) ?? []), figures]);
    }
  }
  const rate = Number(flags["steady-rate"]);
  const perSecond = rate / CONSUMERS;
  const steadyName = `SQLite, steady ${rate} deliveries/s (single publishes, warmed up)`;
  steady = await step("steady", "steady-rate latency", () =>
    hookline(steadyName, "sqlite", 0, receiver, {
      events: Math.round(perSecond * Number(flags["steady-seconds"])),
      warmupEvents: Math.round(perSecond * Number(flags["steady-warmup-seconds"])),
      batchSize: 1,
      perSecond,
    }),
  );
  queued = await step("queued", "memory with deliveries queued", () => queuedMemory(receiver));
  noisy = await step("noisy", "noisy neighbour", () => noisyNeighbour(receiver));
  for (const publishers of [1, Number(flags["ingest-publishers"])]) {
    for (const [name, dialect, env] of [
      ["SQLite (synchronous NORMAL)", "sqlite", {}],
      ["PostgreSQL (synchronous_commit on)", "postgres", {}],
      ["PostgreSQL (synchronous_commit off)", "postgres", { HOOKLINE_POSTGRES_SYNCHRONOUS_COMMIT: "off" }],
    ] as const) {
      const figures = await step("ingest", `ingest latency, ${name}, ${publishers} publishers`, () => ingestLatency(name, dialect, env, publishers, receiver));
      if (figures) ingestRuns.push(figures);
    }
  }
  for (const [key, dialect] of [
    ["portal", "sqlite"],
    ["portal-postgres", "postgres"],
  ] as const) {
    const figures = await step(key, `portal pages, ${dialect}, ${flags["portal-messages"]} messages`, () => portalPages(dialect));
    if (figures) portalRuns.push(figures);
  }
  for (const [key, dialect] of [
    ["soak", "sqlite"],
    ["soak-postgres", "postgres"],
  ] as const) {
    const figures = await step(key, `soak, ${dialect}, ${flags["soak-seconds"]} s at ${flags["soak-rate"]} events/s`, () => soak(dialect, receiver));
    if (figures) soakRuns.push(figures);
  }
} finally {
  receiver.stop();
}
const physical = runs.get("physical") ?? [];
const bullmq = runs.get("bullmq") ?? [];
const rows = [...runs.values()].map((rounds) => summarize(rounds, physical, bullmq));
if (steady) rows.push({ figures: steady, rates: [steady.deliveriesPerSecond] });
if (rows.length > 0) printTable(rows);
if (queued) console.log(`\nPeak RSS with ${queued.queued} deliveries queued (SQLite, 1 process): ${queued.peakRssMb.join(" + ")} MB`);
if (ingestRuns.length > 0) {
  console.log(`\nSingle publishes, each publisher one request at a time, while the worker delivers (${flags["ingest-requests"]} requests):`);
  for (const run of ingestRuns) {
    console.log(
      `  ${run.name.padEnd(36)}  ${String(run.publishers).padStart(2)} publishers  ${fixed(run.requestsPerSecond)} requests/s  p50 ${fixed(run.latency.p50, 1)} ms  p99 ${fixed(run.latency.p99, 1)} ms`,
    );
  }
}
if (noisy) {
  console.log(
    `\nNoisy neighbour (SQLite, 1 process, circuit breaker on): A gathers ${noisy.backlog} held deliveries while B gets ${noisy.rate} events/s and C answers in 10 s`,
  );
  for (const phase of noisy.phases)
    console.log(
      `  B ${phase.name.padEnd(38)}  ${String(phase.deliveries).padStart(6)} deliveries  p50 ${fixed(phase.p50)} ms  p99 ${fixed(phase.p99)} ms  max ${fixed(phase.max)} ms`,
    );
  console.log(`  A caught up ${noisy.backlog} deliveries in ${fixed(noisy.catchUpSeconds, 1)} s: ${fixed(noisy.catchUpPerSecond)} deliveries/s`);
  console.log(`  C (10 s answers) had at most ${noisy.slowMostOpen} attempts open at once; ${noisy.slowReceived} received in all`);
}
for (const run of portalRuns) {
  console.log(
    `\nPortal pages (${run.dialect}, ${run.messages} messages over 7 days, filled in ${fixed(run.fillSeconds)} s), request to last byte on loopback, ${flags["portal-requests"]} requests each:`,
  );
  for (const page of run.pages) console.log(`  ${page.name.padEnd(44)}  p50 ${fixed(page.p50, 1)} ms  p99 ${fixed(page.p99, 1)} ms`);
}
for (const run of soakRuns) printSoak(run);
console.log(`\nThe run took ${fixed((performance.now() - benchStarted) / 1000)} s`);
process.exit(0);
