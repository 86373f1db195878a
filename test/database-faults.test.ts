/**
 * The database goes away and comes back: PostgreSQL stopped and started again
 * under load, and SQLite's disk filled up and freed. Hookline runs as real
 * `serve` processes delivering to a real receiver. While the database is
 * unavailable the API answers 503 ErrorMessage with Retry-After and stays
 * up; once it is back, everything the API accepted is delivered, without a
 * restart, and nothing is sent twice but what was in flight when it went.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Store } from "../src/storage/database.ts";
import { testDialect } from "./support/database.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { privatePostgresUnavailable, startPrivatePostgres } from "./support/private-postgres.ts";
import type { ReceivedWebhook } from "./support/receiver.ts";
import { firstStart, Harness, type Api, type ServeProcess } from "./support/serve-process.ts";
import { freePort, type ApiResponse } from "./support/server.ts";
import { until } from "./support/wait.ts";

const BATCH_SIZE = 10;
const CONCURRENCY = 2;
/**
 * Short leases and attempt timeouts, so deliveries a worker sent but could not
 * record fall due again soon after the database is back; retries 300 ms apart.
 */
const SERVE_ENV = {
  HOOKLINE_RETRY_SCHEDULE: Array.from({ length: 20 }, () => "300ms").join(","),
  HOOKLINE_ATTEMPT_TIMEOUT: "1s",
  HOOKLINE_WORKER_LEASE: "3s",
  HOOKLINE_WORKER_BATCH_SIZE: String(BATCH_SIZE),
  HOOKLINE_WORKER_CONCURRENCY: String(CONCURRENCY),
};
/**
 * The only webhooks that may arrive twice: attempts a worker sent while the
 * database went away and could not record before its lease ran out. They are
 * sent again once it is back (at least once, never lost). A worker process
 * holds at most CONCURRENCY leased batches of BATCH_SIZE at a time, so each
 * worker process can have at most that many deliveries in that state.
 */
const IN_FLIGHT_PER_WORKER = BATCH_SIZE * CONCURRENCY;
/** The database password of the PostgreSQL test, looked for in the logs. */
const PASSWORD_MARKER = "never-logged-db-password";
/** The pace of each publisher of the steady stream: the shape of the load, not a wait for anything. */
const PUBLISH_EVERY_MS = 20;

interface Outcome {
  name: string;
  /** The HTTP status, or null when no answer came (the server gone, the connection dropped). */
  status: number | null;
  response: ApiResponse | undefined;
  error: unknown;
}

/**
 * A steady stream of company.created events from `publishers` publishers,
 * each publishing one after the other, until stopped; every answer is kept.
 */
class Publisher {
  readonly outcomes: Outcome[] = [];
  private publishing = true;
  private readonly loops: Array<Promise<void>>;
  private count = 0;

  constructor(
    private readonly api: Api,
    private readonly description: string,
    publishers: number,
  ) {
    this.loops = Array.from({ length: publishers }, () => this.loop());
  }

  private async loop(): Promise<void> {
    while (this.publishing) {
      await this.publishOne();
      await new Promise((resolve) => setTimeout(resolve, PUBLISH_EVERY_MS));
    }
  }

  /** Publishes one more event now; its answer is kept, and returned. */
  async publishOne(): Promise<Outcome> {
    const name = `Company ${++this.count}`;
    const outcome = await this.api("POST", "/companies", { name, description: this.description }).then(
      (response): Outcome => ({ name, status: response.status, response, error: undefined }),
      (error: unknown): Outcome => ({ name, status: null, response: undefined, error }),
    );
    this.outcomes.push(outcome);
    return outcome;
  }

  accepted(): Outcome[] {
    return this.outcomes.filter((outcome) => outcome.status === 200);
  }

  refused(): Outcome[] {
    return this.outcomes.filter((outcome) => outcome.status !== 200);
  }

  async stop(): Promise<void> {
    this.publishing = false;
    await Promise.all(this.loops);
  }
}

/** A 503 in Codat's ErrorMessage shape, retryable, asking to be tried again within seconds. */
function assertUnavailable(response: Pick<ApiResponse, "status" | "body" | "headers">, context: string): void {
  assertErrorMessage(response, 503, context, /database is unavailable/);
  assert.equal(response.body.canBeRetried, "Yes", `${context}: canBeRetried`);
  const retryAfter = Number(response.headers.get("retry-after"));
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 30,
    `${context}: Retry-After of a few seconds, got ${response.headers.get("retry-after")}`,
  );
}

/** The company ids of the accepted requests whose event is not among `delivered` (by payload id). */
function undelivered(publisher: Publisher, delivered: readonly ReceivedWebhook[]): string[] {
  const arrived = new Set(delivered.map((webhook) => JSON.parse(webhook.body).payload.id as string));
  return publisher
    .accepted()
    .map((outcome) => outcome.response!.body.id as string)
    .filter((id) => !arrived.has(id));
}

/** How many times each message arrived, by webhook-id. */
function arrivals(delivered: readonly ReceivedWebhook[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const webhook of delivered) {
    const id = webhook.headers["webhook-id"] as string;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Every delivery in the database has succeeded. */
function allDelivered(store: Store) {
  return async (): Promise<true | string> => {
    const rows = await store.db.selectFrom("deliveries").select("status").execute();
    const pending = rows.filter((row) => row.status !== "Success").length;
    return pending === 0 || `${rows.length} deliveries, ${pending} not yet successful`;
  };
}

/** Asserts that no message was delivered more than twice, and that at most `bound` were delivered twice. */
function assertDuplicatesWithin(delivered: readonly ReceivedWebhook[], bound: number): void {
  const counts = [...arrivals(delivered).values()];
  assert.ok(
    counts.every((count) => count <= 2),
    `no message arrives more than twice: ${counts.filter((count) => count > 2).length} did`,
  );
  const twice = counts.filter((count) => count === 2).length;
  assert.ok(twice <= bound, `${twice} messages arrived twice; at most ${bound} attempts can have been in flight`);
}

const logLines = (server: ServeProcess) =>
  server
    .streams()
    .stdout.split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { level: number; msg: string });

const postgresOnly = testDialect === "postgres" ? privatePostgresUnavailable() : "PostgreSQL pass only: it stops and starts a PostgreSQL server of its own";

test(
  "PostgreSQL stopped under load and started again: 503 with Retry-After meanwhile, the processes stay up, every accepted event is delivered",
  { skip: postgresOnly, timeout: 180_000 },
  async (t) => {
    const harness = new Harness(t);
    const postgres = await startPrivatePostgres();
    harness.onCleanup(() => postgres.destroy());
    // Trust authentication never asks for the password, so the URL may carry one that no log line may show.
    const url = new URL(postgres.url);
    url.password = PASSWORD_MARKER;
    const databaseUrl = url.toString();
    const receiver = await harness.receiver();
    // Both processes poll only every ten minutes: after the restart only wake-ups (NOTIFY, heard on
    // a LISTEN connection opened again, and the wake-up that reopening it gives) deliver in time.
    const env = { ...SERVE_ENV, HOOKLINE_WORKER_IDLE_POLL: "10m" };
    const { server, api } = await firstStart(harness, databaseUrl, { env });
    // The worker process serves /healthz on its metrics port: once it answers, the worker runs (and listens).
    const metricsPort = await freePort();
    const worker = await harness.serve(databaseUrl, { roles: "worker", port: metricsPort, env: { ...env, HOOKLINE_METRICS_PORT: String(metricsPort) } });
    await worker.ready();
    const consumer = await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] });
    assert.equal(consumer.status, 201, JSON.stringify(consumer.body));

    const publisher = new Publisher(api, "Steady stream", 2);
    t.after(() => publisher.stop());
    await until("deliveries flowing", async () => {
      const accepted = publisher.accepted().length;
      return (accepted >= 20 && receiver.received.length >= 10) || `${accepted} accepted, ${receiver.received.length} delivered`;
    });

    await postgres.stop();
    const refusedAtStop = publisher.refused().length;
    const probe = await until(
      "the API to answer 503 while PostgreSQL is down",
      () => api("GET", "/companies"),
      (response) => response.status !== 200,
    );
    assertUnavailable(probe, "GET /companies while PostgreSQL is down");
    const ready = await fetch(`${server.baseUrl}/readyz`);
    assert.equal(ready.status, 503, "/readyz says not ready while the database is away");
    await until("the stream to be refused a few times", async () => {
      const refused = publisher.refused().length - refusedAtStop;
      return refused >= 10 || `${refused} refused`;
    });
    assert.ok(server.running, `the API process stays up:\n${server.logs()}`);
    assert.ok(worker.running, `the worker process stays up:\n${worker.logs()}`);

    await postgres.start();
    await until("the API to answer again", async () => (await api("GET", "/companies")).status === 200);
    assert.equal((await fetch(`${server.baseUrl}/readyz`)).status, 200, "/readyz is ready again");
    const acceptedAtRestart = publisher.accepted().length;
    await until("events accepted after the restart", async () => {
      const since = publisher.accepted().length - acceptedAtRestart;
      return since >= 20 || `${since} accepted since the restart`;
    });
    await publisher.stop();

    for (const outcome of publisher.refused()) {
      assert.notEqual(outcome.status, null, `${outcome.name}: the API answered (${String(outcome.error)})`);
      assertUnavailable(outcome.response!, `${outcome.name} refused`);
    }
    const store = await harness.store(postgres.url);
    await until("every accepted event delivered", async () => {
      const missing = undelivered(publisher, receiver.received);
      return missing.length === 0 || `${missing.length} of ${publisher.accepted().length} not delivered`;
    });
    await until("every delivery recorded as successful", allDelivered(store));
    // Under the stream a worker finds more due work each time it looks. With the queue empty its loops (two in
    // each process) sleep for the ten-minute poll, each after at most one timer set while deliveries were still
    // pending: of five events published one after another, the last at least is delivered in time only if a
    // NOTIFY is heard on a LISTEN connection that was opened again after the restart.
    for (let event = 0; event < 5; event++) {
      const published = await publisher.publishOne();
      assert.equal(published.status, 200, JSON.stringify(published.response?.body));
      await until(
        `event ${event + 1} of 5 published to idle workers delivered`,
        async () => undelivered(publisher, receiver.received).length === 0,
        undefined,
        10_000,
      );
    }

    // Two worker processes (the API process runs one too).
    assertDuplicatesWithin(receiver.received, 2 * IN_FLIGHT_PER_WORKER);
    assert.ok(server.running && worker.running, "neither process exited");
    for (const serving of [server, worker]) {
      const lines = logLines(serving);
      assert.deepEqual(
        lines.filter((line) => line.level >= 50).map((line) => line.msg),
        [],
        "a database that goes away is a warning, not an error",
      );
      assert.ok(lines.filter((line) => /delivery paused/.test(line.msg)).length <= 1, "the worker says once that it paused");
    }
    assert.ok(!(server.logs() + worker.logs()).includes(PASSWORD_MARKER), "the database password is never logged");
  },
);

/** Mounting a file system takes root; the full-disk test skips without it. */
const sqliteOnly =
  testDialect !== "sqlite"
    ? "SQLite pass only: it fills the disk under a SQLite file"
    : process.getuid?.() !== 0
      ? "needs root to mount a small tmpfs to fill"
      : false;

test(
  "SQLite on a full disk: 503 with Retry-After, nothing accepted is lost, and once space is freed the same process delivers it all",
  { skip: sqliteOnly, timeout: 180_000 },
  async (t) => {
    const harness = new Harness(t);
    const mount = mkdtempSync(join(tmpdir(), "hookline-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mount]);
    harness.onCleanup(async () => {
      execFileSync("umount", ["-l", mount]);
      rmSync(mount, { recursive: true, force: true });
    });
    const databaseUrl = `sqlite:${join(mount, "hookline.db")}`;
    // The receiver fails every attempt until space is freed, so deliveries are pending (and their
    // failed attempts being recorded) when the disk fills. Attempts 300 ms apart, a hundred of them.
    const receiver = await harness.receiver();
    let diskFull = true;
    const delivered: ReceivedWebhook[] = [];
    receiver.respond = (_index, webhook, response) => {
      if (!diskFull) delivered.push(webhook);
      response.writeHead(diskFull ? 500 : 204).end();
    };
    const env = { ...SERVE_ENV, HOOKLINE_RETRY_SCHEDULE: Array.from({ length: 100 }, () => "300ms").join(","), HOOKLINE_WORKER_IDLE_POLL: "200ms" };
    const { server, api } = await firstStart(harness, databaseUrl, { env });
    const consumer = await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] });
    assert.equal(consumer.status, 201, JSON.stringify(consumer.body));
    // All but 3 MiB of what is left, taken now and given back once the disk is full. Every commit
    // appends the pages it changed to the write-ahead log, so each event takes tens of kilobytes.
    const filler = join(mount, "filler");
    const { bavail, bsize } = statfsSync(mount);
    writeFileSync(filler, Buffer.alloc(bavail * bsize - 3 * 1024 * 1024, 1));

    const publisher = new Publisher(api, "x".repeat(2000), 0);
    let refused = 0;
    for (let published = 0; refused < 5; published++) {
      assert.ok(published < 5000, "the disk should have filled up by now");
      if ((await publisher.publishOne()).status !== 200) refused++;
    }
    const accepted = publisher.accepted();
    assert.ok(accepted.length >= 10, `some events were accepted before the disk filled (${accepted.length})`);
    for (const outcome of publisher.refused()) {
      assert.notEqual(outcome.status, null, `${outcome.name}: the API answered (${String(outcome.error)})`);
      assertUnavailable(outcome.response!, `${outcome.name} on a full disk`);
    }
    assert.ok(server.running, `the process stays up on a full disk:\n${server.logs()}`);
    assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200);

    // What was accepted is in the database, readable while the disk is still full.
    const store = await harness.store(databaseUrl);
    const stored = new Set((await store.db.selectFrom("companies").select("id").execute()).map((row) => row.id as string));
    for (const outcome of accepted) assert.ok(stored.has(outcome.response!.body.id), `${outcome.name} was accepted and is stored`);

    const pid = server.pid;
    rmSync(filler);
    diskFull = false;
    await until("the API to accept events again", async () => {
      const outcome = await publisher.publishOne();
      return outcome.status === 200 || `${outcome.status}: ${JSON.stringify(outcome.response?.body)}`;
    });
    for (let more = 0; more < 10; more++) {
      const outcome = await publisher.publishOne();
      assert.equal(outcome.status, 200, `${outcome.name} accepted once space is freed`);
    }

    await until("every accepted event delivered", async () => {
      const missing = undelivered(publisher, delivered);
      return missing.length === 0 || `${missing.length} of ${publisher.accepted().length} not delivered`;
    });
    await until("every delivery recorded as successful", allDelivered(store));
    assertDuplicatesWithin(delivered, IN_FLIGHT_PER_WORKER);
    assert.ok(server.running && server.pid === pid, "the same process recovered, without a restart");
    const errors = logLines(server).filter((line) => line.level >= 50);
    assert.deepEqual(
      errors.map((line) => line.msg),
      [],
      "a full disk is a warning, not an error",
    );
  },
);
