/**
 * Crash recovery: Hookline runs as a real `serve` child process and is killed
 * with SIGKILL, so nothing gets a chance to shut down cleanly. The
 * transactional outbox and the leased deliveries must make up for it: after a
 * restart on the same database every committed event still arrives, retries
 * carry on where they stopped, and a change and its event exist together or
 * not at all.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { Store } from "../src/storage/database.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { Receiver } from "./support/receiver.ts";
import { callApi, freePort, type ApiResponse } from "./support/server.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Attempts 300 ms apart: a few fail before the kill, and the schedule is long enough to outlive the restart. */
const RETRY_SCHEDULE = Array.from({ length: 20 }, () => "300ms").join(",");
const BATCH_SIZE = 10;
/** Upper bound on any single wait: generous for a loaded machine, but a hang still fails. */
const WAIT_MS = 45_000;
const POLL_MS = 100;
const API_KEY_LINE = /API key \(shown once[^)]*\): (\S+)/;

/** The environment of a `serve` process: compressed retries, short leases (a killed worker's leases must run out quickly). */
function serveEnvironment(): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("HOOKLINE_")));
  return {
    ...inherited,
    HOOKLINE_ALLOWED_CIDRS: "127.0.0.0/8",
    HOOKLINE_RETRY_SCHEDULE: RETRY_SCHEDULE,
    HOOKLINE_LOG_LEVEL: "warn",
    HOOKLINE_ATTEMPT_TIMEOUT: "1s",
    HOOKLINE_WORKER_LEASE: "2s",
    HOOKLINE_WORKER_BATCH_SIZE: String(BATCH_SIZE),
    HOOKLINE_WORKER_IDLE_POLL: "200ms",
  };
}

/** `hookline serve` as a child process, with everything it printed. */
class ServeProcess {
  private output = "";
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
  ) {
    child.stdout!.on("data", (chunk: Buffer) => (this.output += chunk.toString("utf8")));
    child.stderr!.on("data", (chunk: Buffer) => (this.output += chunk.toString("utf8")));
    // "close" rather than "exit": by then everything the process printed has been read.
    this.exit = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  }

  static spawn(databaseUrl: string, port: number): ServeProcess {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "--database-url", databaseUrl, "serve", "--port", String(port)], {
      cwd: ROOT,
      env: serveEnvironment(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new ServeProcess(child, `http://127.0.0.1:${port}`);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Polls GET /healthz a bounded number of times; fails at once if the process exits. */
  async ready(): Promise<void> {
    for (let tries = 0; tries < WAIT_MS / POLL_MS; tries++) {
      if (!this.running) throw new Error(`serve exited before answering /healthz:\n${this.output}`);
      const healthy = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
        (response) => response.ok,
        () => false,
      );
      if (healthy) return;
      await delay(POLL_MS);
    }
    throw new Error(`serve did not answer /healthz within ${WAIT_MS} ms:\n${this.output}`);
  }

  /** Resolves with the first match of `pattern` in stdout or stderr, as soon as it is printed. */
  waitForOutput(pattern: RegExp): Promise<RegExpExecArray> {
    const stdout = this.child.stdout!;
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.output);
        if (match) finish(() => resolve(match));
      };
      const exited = () => finish(() => reject(new Error(`serve exited before printing ${pattern}:\n${this.output}`)));
      const timer = setTimeout(() => finish(() => reject(new Error(`serve did not print ${pattern} within ${WAIT_MS} ms:\n${this.output}`))), WAIT_MS);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        stdout.off("data", check);
        this.child.off("close", exited);
        settle();
      };
      stdout.on("data", check);
      this.child.once("close", exited);
      check();
    });
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

  logs(): string {
    return this.output;
  }
}

/**
 * What one test starts, stopped in reverse order in its `after` hook whether
 * the test passed or not: processes are killed before their database is dropped.
 */
class Harness {
  private readonly cleanups: Array<() => Promise<unknown>> = [];

  constructor(t: TestContext) {
    t.after(() => this.cleanup());
  }

  async database(): Promise<TestDatabase> {
    const database = await createTestDatabase();
    this.cleanups.push(() => database.drop());
    return database;
  }

  /** Starts `serve` and waits until it answers; the process is killed at cleanup if still alive. */
  async serve(databaseUrl: string, port: number): Promise<ServeProcess> {
    const server = ServeProcess.spawn(databaseUrl, port);
    this.cleanups.push(() => server.kill());
    await server.ready();
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

/** `promise`, or a failure after WAIT_MS; the timer is cleared either way so it keeps nothing alive. */
async function within<T>(promise: Promise<T>, failure: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(failure())), WAIT_MS)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls the database (bounded) until `probe` returns true; any other value describes the state so far. */
async function until(what: string, probe: () => Promise<true | string>): Promise<void> {
  let state: true | string = "not checked";
  for (const deadline = Date.now() + WAIT_MS; Date.now() < deadline; await delay(POLL_MS)) {
    state = await probe();
    if (state === true) return;
  }
  throw new Error(`Timed out after ${WAIT_MS} ms waiting for ${what} (last state: ${state})`);
}

type Api = <T = any>(method: string, path: string, body?: unknown) => Promise<ApiResponse<T>>;

/** First start on an empty database: the API key `serve` prints once. */
async function firstStart(harness: Harness, databaseUrl: string, port: number): Promise<{ server: ServeProcess; api: Api; apiKey: string }> {
  const server = await harness.serve(databaseUrl, port);
  const apiKey = (await server.waitForOutput(API_KEY_LINE))[1]!;
  return { server, apiKey, api: (method, path, body) => callApi(server.baseUrl, apiKey, method, path, body) };
}

async function subscribe(api: Api, url: string): Promise<string> {
  const consumer = await api("POST", "/webhooks", { url, eventTypes: ["company.created"] });
  assert.equal(consumer.status, 201, JSON.stringify(consumer.body));
  return consumer.body.id;
}

async function readOutcome(store: Store) {
  const [companies, messages, deliveries, attempts] = await Promise.all([
    store.db.selectFrom("companies").select(["id", "name"]).execute(),
    store.db.selectFrom("messages").selectAll().where("event_type", "=", "company.created").execute(),
    store.db.selectFrom("deliveries").selectAll().execute(),
    store.db.selectFrom("attempts").selectAll().orderBy("delivery_id").orderBy("attempt_number").execute(),
  ]);
  const attemptsByDelivery = new Map<string, typeof attempts>();
  for (const attempt of attempts) attemptsByDelivery.set(attempt.delivery_id, [...(attemptsByDelivery.get(attempt.delivery_id) ?? []), attempt]);
  return { companies, messages, deliveries, attemptsByDelivery };
}

/** Every delivery of the database has succeeded (and there are `expected` of them, when given). */
function allDelivered(store: Store, expected?: number) {
  return async (): Promise<true | string> => {
    const rows = await store.db.selectFrom("deliveries").select("status").execute();
    const pending = rows.filter((row) => row.status !== "Success").length;
    if (rows.length === (expected ?? rows.length) && pending === 0) return true;
    return `${rows.length} deliveries, ${pending} not yet successful`;
  };
}

/** How many webhooks arrived per message id, checking each is the stored message, signed under its own id. */
function receivedPerMessage(receiver: Receiver, messages: Array<{ id: string; body: string }>): Map<string, number> {
  const bodies = new Map(messages.map((message) => [message.id, message.body]));
  const counts = new Map<string, number>();
  for (const webhook of receiver.received) {
    const id = webhook.headers["webhook-id"] as string;
    assert.ok(bodies.has(id), `received a webhook for ${id}, which is no stored company.created message`);
    assert.equal(webhook.body, bodies.get(id), `the body of ${id} is the stored event, byte for byte`);
    assert.equal(JSON.parse(webhook.body).id, id);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

test("SIGKILL with failing deliveries pending: after a restart each event arrives once and the retries carry on", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const serverPort = await freePort();
  // Nothing listens here until after the kill, so every attempt before it fails.
  const receiverPort = await freePort();

  const { server, api } = await firstStart(harness, database.url, serverPort);
  await subscribe(api, `http://127.0.0.1:${receiverPort}/hooks`);
  const created = await Promise.all(
    Array.from({ length: 20 }, async (_, index) => {
      const response = await api("POST", "/companies", { name: `Pending ${index}` });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body.id as string;
    }),
  );

  const store = await harness.store(database.url);
  await until("two failed attempts recorded for each of the 20 deliveries", async () => {
    const rows = await store.db
      .selectFrom("attempts")
      .select((eb) => ["delivery_id", eb.fn.countAll().as("failures")])
      .where("succeeded", "=", 0)
      .groupBy("delivery_id")
      .execute();
    const ready = rows.filter((row) => Number(row.failures) >= 2).length;
    return ready === 20 || `${ready} of 20 deliveries have failed twice`;
  });
  const killedAt = Date.now();
  await server.kill();

  const beforeRestart = await readOutcome(store);
  assert.equal(beforeRestart.deliveries.length, 20);
  for (const delivery of beforeRestart.deliveries) {
    assert.equal(delivery.status, "Attempting", "the receiver was down: every delivery is still being retried");
  }

  const receiver = await harness.receiver(receiverPort);
  const restartedAt = Date.now();
  const restarted = await harness.serve(database.url, serverPort);
  // Same database, same client: the key printed on the first start still works.
  const listed = await api("GET", "/companies");
  assert.equal(listed.status, 200);
  assert.equal(listed.body.totalResults, 20);

  await receiver.waitFor(20, WAIT_MS);
  await until("all 20 deliveries recorded as successful", allDelivered(store, 20));
  const stopped = await restarted.stop();
  assert.deepEqual(stopped, { code: 0, signal: null }, `graceful shutdown after SIGTERM:\n${restarted.logs()}`);
  assert.doesNotMatch(restarted.logs(), API_KEY_LINE, "a restart on a database with clients prints no new key");

  const { companies, messages, deliveries, attemptsByDelivery } = await readOutcome(store);
  assert.deepEqual(new Set(companies.map((company) => company.id)), new Set(created));
  assert.deepEqual(new Set(messages.map((message) => message.company_id)), new Set(created), "one company.created message per company");
  assert.deepEqual(new Set(receiver.events().map((event) => event.payload.id)), new Set(created), "the events are about the companies created");

  const counts = receivedPerMessage(receiver, messages);
  assert.equal(receiver.received.length, 20, "the receiver was down before the kill, so nothing may arrive twice");
  for (const message of messages) assert.equal(counts.get(message.id), 1, `message ${message.id} arrives exactly once`);

  for (const delivery of deliveries) {
    const attempts = attemptsByDelivery.get(delivery.id) ?? [];
    const before = beforeRestart.attemptsByDelivery.get(delivery.id) ?? [];
    assert.ok(before.length >= 2, `delivery ${delivery.id} failed at least twice before the kill`);
    // The history before the kill is kept as it was, and the restart adds one successful attempt numbered after it.
    assert.deepEqual(attempts.slice(0, before.length), before);
    assert.deepEqual(
      attempts.map((attempt) => attempt.attempt_number),
      Array.from({ length: before.length + 1 }, (_, index) => index + 1),
      "attempt numbers continue after the restart instead of starting again at 1",
    );
    for (const failure of before) {
      assert.equal(failure.succeeded, 0);
      assert.equal(failure.status_code, null);
      assert.match(failure.error ?? "", /ECONNREFUSED/);
      assert.ok(failure.started_at <= killedAt);
    }
    const success = attempts.at(-1)!;
    assert.equal(success.succeeded, 1);
    assert.equal(success.status_code, 204);
    assert.ok(success.started_at >= restartedAt, "the successful attempt is the restarted server's");
    assert.equal(delivery.status, "Success");
    assert.equal(delivery.attempt_count, before.length + 1);
    assert.equal(delivery.next_attempt_at, null);
    assert.equal(delivery.lease_owner, null);
  }
});

test("SIGKILL during a burst: every acknowledged company's event arrives, duplicates stay within one batch, nothing half-written", async (t) => {
  const BURST = 200;
  const KILL_AFTER_ACKS = 50;
  const harness = new Harness(t);
  const database = await harness.database();
  const serverPort = await freePort();
  const receiver = await harness.receiver();

  const { server, api } = await firstStart(harness, database.url, serverPort);
  await subscribe(api, receiver.url);
  const store = await harness.store(database.url);

  let acks = 0;
  let enoughAcks!: () => void;
  const killPoint = new Promise<void>((resolve) => (enoughAcks = resolve));
  const names = Array.from({ length: BURST }, (_, index) => `Burst ${index}`);
  const requests = names.map((name) =>
    api("POST", "/companies", { name }).then(
      (response) => {
        if (response.status === 200 && ++acks === KILL_AFTER_ACKS) enoughAcks();
        return { name, status: response.status, id: response.body?.id as string | undefined, error: undefined };
      },
      (error: unknown) => ({ name, status: undefined, id: undefined, error }),
    ),
  );
  // Kill once deliveries are flowing and a quarter of the burst is acknowledged: the rest is in flight or not yet sent.
  await receiver.waitFor(1, WAIT_MS);
  await within(killPoint, () => `only ${acks} of ${BURST} companies were acknowledged`);
  const receivedAtKill = receiver.received.length;
  await server.kill();
  const outcomes = await Promise.all(requests);

  const acknowledged = outcomes.filter((outcome) => outcome.status === 200);
  const cut = outcomes.filter((outcome) => outcome.error !== undefined);
  assert.equal(acknowledged.length + cut.length, BURST, `every request either succeeded or was cut by the kill: ${JSON.stringify(outcomes.filter((outcome) => outcome.status !== undefined && outcome.status !== 200))}`);
  t.diagnostic(`at the kill: ${acknowledged.length} companies acknowledged, ${cut.length} requests cut, ${receivedAtKill} webhooks received`);

  const restarted = await harness.serve(database.url, serverPort);
  await until("every committed delivery to succeed", allDelivered(store));
  const stopped = await restarted.stop();
  assert.deepEqual(stopped, { code: 0, signal: null }, `graceful shutdown after SIGTERM:\n${restarted.logs()}`);

  const { companies, messages, deliveries, attemptsByDelivery } = await readOutcome(store);

  // The outbox commits a company and its event together: one exists if and only if the other does.
  const companyIds = companies.map((company) => company.id);
  assert.deepEqual(new Set(messages.map((message) => message.company_id)), new Set(companyIds), "a company row exists iff its company.created message does");
  assert.equal(messages.length, companies.length, "one company.created message per company");
  // Each request made at most one company, and only the burst made any.
  const companyNames = companies.map((company) => company.name);
  assert.equal(new Set(companyNames).size, companyNames.length);
  for (const name of companyNames) assert.ok(names.includes(name), `unexpected company ${name}`);
  const byId = new Map(companies.map((company) => [company.id, company.name]));
  for (const outcome of acknowledged) assert.equal(byId.get(outcome.id!), outcome.name, `acknowledged company ${outcome.name} is stored`);
  t.diagnostic(`${companies.length - acknowledged.length} of the ${cut.length} cut requests had committed before the kill`);

  // Each message has its one delivery, and it succeeded.
  assert.equal(deliveries.length, messages.length);
  assert.deepEqual(new Set(deliveries.map((delivery) => delivery.message_id)), new Set(messages.map((message) => message.id)));

  // At least once: every message arrived, the stored body byte for byte.
  const counts = receivedPerMessage(receiver, messages);
  const messageIdByCompany = new Map(messages.map((message) => [message.company_id, message.id]));
  for (const outcome of acknowledged) assert.ok((counts.get(messageIdByCompany.get(outcome.id!)!) ?? 0) >= 1, `company.created for ${outcome.name} was delivered`);
  for (const message of messages) assert.ok((counts.get(message.id) ?? 0) >= 1, `message ${message.id} was delivered`);

  // A repeat is a send whose outcome the kill kept from being recorded: only the one batch in flight, each at most once more.
  const duplicates = receiver.received.length - counts.size;
  t.diagnostic(`${receiver.received.length} webhooks for ${counts.size} messages: ${duplicates} duplicates`);
  assert.ok(duplicates <= BATCH_SIZE, `${duplicates} duplicates, more than one batch of ${BATCH_SIZE}`);
  for (const delivery of deliveries) {
    const attempts = attemptsByDelivery.get(delivery.id) ?? [];
    assert.equal(delivery.status, "Success");
    assert.deepEqual(
      attempts.map((attempt) => attempt.attempt_number),
      Array.from({ length: attempts.length }, (_, index) => index + 1),
    );
    assert.equal(attempts.filter((attempt) => attempt.succeeded === 1).length, 1, "one recorded success per delivery");
    assert.ok(counts.get(delivery.message_id)! <= 2, `message ${delivery.message_id} arrived more than twice`);
  }
});
