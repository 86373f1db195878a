import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { loadConfig } from "../src/config.ts";
import { startHookline } from "../src/server.ts";
import { PARKED_REASONS } from "../src/storage/delivery-backlog.ts";
import type { ParkedReason } from "../src/storage/schema.ts";
import { testDialect } from "./support/database.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { subscribe } from "./support/consumers.ts";
import { Receiver, withReceiver } from "./support/receiver.ts";
import { callApi, freePort, startTestServer, testConfig, withServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

/** The value of one sample of the Prometheus text, 0 when the series does not exist yet. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function scrape(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
  return response.text();
}

/** Scrapes until the metrics show what the test expects (bounded; the worker reports after each recorded batch); a timeout shows Hookline's own series of the last scrape. */
async function scrapeUntil(baseUrl: string, what: string, done: (text: string) => boolean): Promise<string> {
  let text = "";
  await until(what, async () => {
    text = await scrape(baseUrl);
    return (
      done(text) ||
      text
        .split("\n")
        .filter((line) => line.startsWith("hookline_"))
        .join("\n")
    );
  });
  return text;
}

describe("delivery metrics", () => {
  let server: TestServer;
  let ok: Receiver;
  let failing: Receiver;
  before(async () => {
    server = await startTestServer({ retrySchedule: "100ms" });
    ok = await Receiver.start();
    failing = await Receiver.start((_index, _webhook, response) => response.writeHead(500).end());
    await server.api("POST", "/webhooks", { url: ok.url, eventTypes: ["company.created"] });
    await server.api("POST", "/webhooks", { url: failing.url, eventTypes: ["company.created"] });
  });
  after(async () => {
    await server.close();
    await ok.close();
    await failing.close();
  });

  test("outcomes, attempt durations and HTTP requests are counted; the queue gauges return to zero once all is sent", async () => {
    const start = await scrape(server.baseUrl);
    const outcome = (text: string, name: string) =>
      sample(text, `hookline_delivery_outcomes_total{outcome="${name}"}`) - sample(start, `hookline_delivery_outcomes_total{outcome="${name}"}`);
    const attempts = (text: string) =>
      sample(text, "hookline_delivery_attempt_duration_seconds_count") - sample(start, "hookline_delivery_attempt_duration_seconds_count");

    for (const name of ["One", "Two", "Three"]) assert.equal((await server.api("POST", "/companies", { name })).status, 200);
    await ok.waitFor(3);
    await failing.waitFor(6);

    const text = await scrapeUntil(
      server.baseUrl,
      "three successes and three final failures",
      (current) => outcome(current, "failed") === 3 && outcome(current, "success") === 3,
    );
    assert.equal(outcome(text, "success"), 3, "one success per company for the working consumer");
    assert.equal(outcome(text, "retrying"), 3, "the failing consumer's first attempts, each with a retry scheduled");
    assert.equal(outcome(text, "failed"), 3, "its retries, with none left");
    assert.equal(attempts(text), 9, "every attempt's duration is observed");
    assert.ok(sample(text, "hookline_delivery_attempt_duration_seconds_sum") > 0);
    assert.ok(sample(text, 'hookline_http_requests_total{method="POST",route="/companies",status_code="200"}') >= 3);
    // The worker reports a batch once it is committed, so a scrape begun after that report sees the queue empty.
    const after = await scrape(server.baseUrl);
    assert.equal(sample(after, "hookline_deliveries_pending"), 0);
    assert.equal(sample(after, "hookline_oldest_due_delivery_age_seconds"), 0);
    assert.match(after, /^process_cpu_user_seconds_total /m, "Node.js process metrics too");
  });
});

describe("queue gauges and worker-only processes", () => {
  let server: TestServer;
  let receiver: Receiver;
  before(async () => {
    // An API process without a worker: events queue up until a worker starts.
    server = await startTestServer({ roles: "api" });
    receiver = await Receiver.start();
    await server.api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] });
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test("pending deliveries and the age of the oldest due one grow while nothing sends them, and fall when a worker does", async (t) => {
    await server.api("POST", "/companies", { name: "Queued one" });
    await server.api("POST", "/companies", { name: "Queued two" });
    const waiting = await scrapeUntil(
      server.baseUrl,
      "the oldest due delivery to age",
      (text) => sample(text, "hookline_oldest_due_delivery_age_seconds") >= 0.2,
    );
    assert.equal(sample(waiting, "hookline_deliveries_pending"), 2);

    const worker = await startHookline(testConfig(server.database.url, { roles: "worker" }), {
      logDestination: new PassThrough().resume(),
    });
    t.after(() => worker.close());
    await receiver.waitFor(2);
    const drained = await scrapeUntil(server.baseUrl, "the queue to drain", (text) => sample(text, "hookline_deliveries_pending") === 0);
    assert.equal(sample(drained, "hookline_oldest_due_delivery_age_seconds"), 0);
  });

  test("parked deliveries are counted by why they wait: an open circuit's, and those behind the head of a fifo line", async (t) => {
    // Two failures open a consumer's circuit for an hour: nothing falls due again within the test.
    const breaking = await withServer(t, { retrySchedule: "50ms,50ms", circuitBreakerFailures: "2", circuitBreakerCooldown: "1h" });
    const down = await withReceiver(t, (_index, _webhook, response) => response.writeHead(503).end());
    await subscribe(breaking, down.url, { eventTypes: ["read.completed"] });
    const fifoId = await subscribe(breaking, down.url, { eventTypes: ["read.completed"] });
    assert.equal((await breaking.api("PATCH", `/webhooks/${fifoId}`, { ordering: "fifo" })).status, 200);
    // Published in one request, so a claim takes the three at once: the unordered consumer's fail in one batch,
    // which opens its circuit and parks them, one of them becoming the probe due when the cool-down ends. The fifo
    // consumer's head fails twice and becomes its probe; the other two wait in line behind it.
    const payload = { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] };
    const events = Array.from({ length: 3 }, () => ({ eventType: "read.completed", payload }));
    assert.equal((await breaking.api("POST", "/events/batch", { events })).status, 201);
    const parked = (text: string) =>
      Object.fromEntries(PARKED_REASONS.map((reason) => [reason, sample(text, `hookline_deliveries_parked{reason="${reason}"}`)])) as Record<
        ParkedReason,
        number
      >;
    const text = await scrapeUntil(breaking.baseUrl, "both circuits open and four deliveries parked", (current) => {
      const { circuit, line } = parked(current);
      return sample(current, "hookline_consumer_circuits_open") === 2 && circuit + line === 4;
    });
    assert.deepEqual(parked(text), { circuit: 2, line: 2, slot: 0, listen: 0 });
    assert.equal(sample(text, "hookline_deliveries_pending"), 6, "parked deliveries are pending too");
  });

  test("a worker-only process given a metrics port serves its own delivery counts, health and readiness there, and no API", async (t) => {
    // Unset or empty, the setting starts no server (an empty value is not "any free port").
    assert.equal(loadConfig({}).metricsPort, null);
    assert.equal(loadConfig({ HOOKLINE_METRICS_PORT: "" }).metricsPort, null);
    const port = await freePort();
    const config = testConfig(server.database.url, { roles: "worker", metricsPort: String(port) });
    const worker = await startHookline(config, { logDestination: new PassThrough().resume() });
    t.after(() => worker.close());
    const workerUrl = `http://127.0.0.1:${port}`;
    await server.api("POST", "/companies", { name: "Sent by the worker" });
    const counted = await scrapeUntil(
      workerUrl,
      "the worker to count its delivery",
      (text) => sample(text, 'hookline_delivery_outcomes_total{outcome="success"}') === 1,
    );
    assert.equal(sample(counted, "hookline_delivery_attempt_duration_seconds_count"), 1);
    // The API process sent nothing, so it counts nothing: only the worker's own port shows the worker's deliveries.
    assert.equal(sample(await scrape(server.baseUrl), 'hookline_delivery_outcomes_total{outcome="success"}'), 0);
    assert.equal((await callApi(workerUrl, null, "GET", "/healthz")).status, 200);
    assert.equal((await callApi(workerUrl, null, "GET", "/readyz")).status, 200);
    assertErrorMessage(await callApi(workerUrl, null, "GET", "/companies"), 404, "the worker's port serves no API");
  });
});

describe("readiness and correlation ids", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test("/readyz is 200 while the database answers with every migration applied, 503 when one is missing", async () => {
    const ready = await callApi(server.baseUrl, null, "GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: "ready" });

    const db = server.hookline.ctx.store.db as any;
    const applied = await db.selectFrom("kysely_migration").selectAll().where("name", "=", "004_events").executeTakeFirstOrThrow();
    await db.deleteFrom("kysely_migration").where("name", "=", "004_events").execute();
    // The migration's row goes back whatever the outcome: the tests after this one need the server ready.
    try {
      assertErrorMessage(await callApi(server.baseUrl, null, "GET", "/readyz"), 503, "a migration missing", /004_events/);
    } finally {
      await db.insertInto("kysely_migration").values(applied).execute();
    }
    assert.equal((await callApi(server.baseUrl, null, "GET", "/readyz")).status, 200);
    assert.equal((await callApi(server.baseUrl, null, "GET", "/healthz")).status, 200);
  });

  test(
    "/readyz is 503 while the database does not answer in time, and 200 again as soon as it does",
    {
      timeout: 30_000,
      skip:
        testDialect !== "postgres" &&
        "PostgreSQL only: on SQLite a write lock keeps no WAL reader waiting, and a read that did wait would block the event loop, timers included, until it ended",
    },
    async (t) => {
      // Another session holds the migrations table in a transaction left open: the readiness check's read of it waits.
      const holder = new pg.Client({ connectionString: server.database.url });
      await holder.connect();
      t.after(() => holder.end());
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE kysely_migration IN ACCESS EXCLUSIVE MODE");

      assertErrorMessage(
        await callApi(server.baseUrl, null, "GET", "/readyz"),
        503,
        "the database kept waiting",
        /^Not ready: database did not answer in time$/,
      );
      assert.equal((await callApi(server.baseUrl, null, "GET", "/healthz")).status, 200, "the process is alive all the same");

      await holder.query("ROLLBACK");
      const ready = await until(
        "/readyz to answer 200 once the lock is released",
        () => callApi(server.baseUrl, null, "GET", "/readyz"),
        (response) => response.status === 200,
      );
      assert.deepEqual(ready.body, { status: "ready" });
    },
  );

  test("every log line of a request carries its correlation id, the one its answer and its ErrorMessage give", async () => {
    const failed = await server.api("GET", "/companies/6c0c1b1e-0000-4000-8000-000000000000");
    assertErrorMessage(failed, 404, "an unknown company");
    const correlationId = failed.headers.get("x-correlation-id");
    const succeeded = await server.api("GET", "/companies");
    const successId = succeeded.headers.get("x-correlation-id");
    assert.ok(successId && successId !== correlationId);

    const lines = server
      .logs()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const ofFailed = lines.filter((line) => line.correlationId === correlationId);
    assert.deepEqual(
      ofFailed.map((line) => line.msg),
      ["incoming request", "request completed"],
    );
    assert.equal(ofFailed[1].res.statusCode, 404);
    assert.deepEqual(
      lines.filter((line) => line.correlationId === successId).map((line) => line.msg),
      ["incoming request", "request completed"],
    );
    const requestLines = lines.filter((line) => line.req !== undefined || line.res !== undefined);
    assert.ok(requestLines.length > 0);
    assert.ok(
      requestLines.every((line) => typeof line.correlationId === "string"),
      "no request log line without a correlation id",
    );
  });
});

test("a server whose database never reuses the space of deleted rows (PostgreSQL with autovacuum off) says so at start; otherwise it does not", async (t) => {
  const server = await withServer(t);
  let autovacuum = "not PostgreSQL";
  if (testDialect === "postgres") {
    const client = new pg.Client({ connectionString: server.database.url });
    await client.connect();
    try {
      autovacuum = (await client.query<{ autovacuum: string }>("SHOW autovacuum")).rows[0]!.autovacuum;
    } finally {
      await client.end();
    }
  }
  const warned = /autovacuum is off: the space of the messages, deliveries and attempts retention deletes is never reused/.test(server.logs());
  assert.equal(warned, autovacuum === "off", `autovacuum: ${autovacuum}`);
});
