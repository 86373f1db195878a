import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import SqliteDatabase from "better-sqlite3";
import pg from "pg";
import { recorded, subscribe } from "./support/consumers.ts";
import { Receiver, withReceiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

describe("retries on a compressed schedule", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ retrySchedule: "100ms,200ms,100ms", attemptTimeout: "500ms" });
  });
  after(() => server.close());

  test("failed attempts are retried after each scheduled delay until a 2xx, then Success", async (t) => {
    const receiver = await withReceiver(t, (index, _webhook, response) => {
      if (index < 2) response.writeHead(500, { "content-type": "text/plain" }).end(`failure ${index}`);
      else response.writeHead(200).end("ok");
    });
    const consumerId = await subscribe(server, receiver.url);
    await server.api("POST", "/companies", { name: "Retried" });
    const arrivals = await receiver.waitFor(3);
    assert.ok(arrivals[1]!.receivedAt - arrivals[0]!.receivedAt >= 100, "the first retry waits the first delay");
    assert.ok(arrivals[2]!.receivedAt - arrivals[1]!.receivedAt >= 200, "the second retry waits the second delay");
    assert.equal(new Set(arrivals.map((webhook) => webhook.headers["webhook-id"])).size, 1, "webhook-id is the same on every attempt");
    assert.equal(new Set(arrivals.map((webhook) => webhook.body)).size, 1, "the body is byte for byte the same on every attempt");

    const { deliveries, attempts } = await until(
      "Success",
      () => recorded(server, consumerId),
      ({ deliveries }) => deliveries[0]?.status === "Success",
    );
    assert.equal(deliveries[0]!.attempt_count, 3);
    assert.equal(deliveries[0]!.next_attempt_at, null);
    assert.deepEqual(
      attempts.map((attempt) => [attempt.attempt_number, attempt.status_code, attempt.succeeded]),
      [
        [1, 500, 0],
        [2, 500, 0],
        [3, 200, 1],
      ],
    );
    assert.equal(attempts[0]!.response_excerpt, "failure 0");
    assert.equal(attempts[0]!.error, "HTTP 500");
    assert.ok(attempts.every((attempt) => attempt.duration_ms >= 0));
  });

  test("a delivery that fails every scheduled attempt ends in Failure", async (t) => {
    const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(503).end());
    const consumerId = await subscribe(server, receiver.url);
    await server.api("POST", "/companies", { name: "Never delivered" });
    await receiver.waitFor(4);
    const { deliveries, attempts } = await until(
      "Failure",
      () => recorded(server, consumerId),
      ({ deliveries }) => deliveries[0]?.status === "Failure",
    );
    assert.equal(attempts.length, 4, "the first attempt and one retry per schedule entry");
    assert.equal(deliveries[0]!.next_attempt_at, null);
  });

  test("a redirect is a failed attempt and is not followed", async (t) => {
    const target = await withReceiver(t);
    const redirecting = await withReceiver(t, (_index, _webhook, response) => response.writeHead(302, { location: target.url }).end());
    const consumerId = await subscribe(server, redirecting.url);
    await server.api("POST", "/companies", { name: "Redirected" });
    await redirecting.waitFor(4);
    const { attempts } = await until(
      "Failure",
      () => recorded(server, consumerId),
      ({ deliveries }) => deliveries[0]?.status === "Failure",
    );
    assert.ok(attempts.every((attempt) => attempt.status_code === 302 && attempt.succeeded === 0));
    assert.equal(target.received.length, 0, "the redirect target never hears from Hookline");
  });

  test("a receiver slower than the timeout fails the attempt with a timeout error", async (t) => {
    const slow = await withReceiver(t, (_index, _webhook, response) => {
      const timer = setTimeout(() => response.writeHead(200).end(), 5_000);
      response.on("close", () => clearTimeout(timer));
    });
    const consumerId = await subscribe(server, slow.url);
    await server.api("POST", "/companies", { name: "Slow" });
    const { attempts } = await until(
      "a recorded attempt",
      () => recorded(server, consumerId),
      ({ attempts }) => attempts.length >= 1,
    );
    assert.equal(attempts[0]!.status_code, null);
    assert.match(attempts[0]!.error ?? "", /timed out/i);
  });

  test("a receiver that answers 200 but trickles its body past the timeout has the event: the attempt succeeds and is not repeated", async (t) => {
    // A byte every 100 ms keeps the connection busy, so only the attempt's own deadline can end it.
    const trickling = await withReceiver(t, (_index, _webhook, response) => {
      response.writeHead(200, { "content-type": "text/plain" });
      const timer = setInterval(() => response.write("x"), 100);
      response.on("close", () => clearInterval(timer));
    });
    const consumerId = await subscribe(server, trickling.url);
    await server.api("POST", "/companies", { name: "Trickling" });
    const { attempts } = await until(
      "the delivery recorded",
      () => recorded(server, consumerId),
      ({ deliveries }) => deliveries[0]?.status === "Success",
    );
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0]!.succeeded, 1);
    assert.equal(attempts[0]!.status_code, 200);
    assert.equal(attempts[0]!.error, null);
    assert.match(attempts[0]!.response_excerpt ?? "", /^x+$/, "the excerpt holds what arrived before the deadline");
    assert.equal(trickling.received.length, 1, "an acknowledged event is not sent again");
  });

  test("a refused connection is a failed attempt with the network error recorded", async () => {
    const closed = await Receiver.start();
    const url = closed.url;
    await closed.close();
    const consumerId = await subscribe(server, url);
    await server.api("POST", "/companies", { name: "Nobody home" });
    const { deliveries, attempts } = await until(
      "a recorded attempt",
      () => recorded(server, consumerId),
      ({ attempts }) => attempts.length >= 1,
    );
    assert.match(attempts[0]!.error ?? "", /ECONNREFUSED/);
    assert.ok(["Attempting", "Failure"].includes(deliveries[0]!.status));
  });

  test("a binary response body is recorded without breaking the record of its batch", async (t) => {
    const binary = await withReceiver(t, (_index, _webhook, response) =>
      response.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.from([0x47, 0x49, 0x46, 0x00, 0x01])),
    );
    const consumerId = await subscribe(server, binary.url);
    await server.api("POST", "/companies", { name: "Binary" });
    const { deliveries, attempts } = await until(
      "Success",
      () => recorded(server, consumerId),
      ({ deliveries }) => deliveries[0]?.status === "Success",
    );
    assert.equal(deliveries[0]!.attempt_count, 1, "recorded at the first attempt, not re-sent");
    assert.equal(attempts[0]!.response_excerpt, "GIF\uFFFD\u0001");
  });

  test("a long response body is kept as a bounded excerpt", async (t) => {
    const verbose = await withReceiver(t, (_index, _webhook, response) => response.writeHead(200).end("x".repeat(10_000)));
    const consumerId = await subscribe(server, verbose.url);
    await server.api("POST", "/companies", { name: "Verbose" });
    const { attempts } = await until(
      "a recorded attempt",
      () => recorded(server, consumerId),
      ({ attempts }) => attempts.length >= 1,
    );
    assert.equal(attempts[0]!.response_excerpt, "x".repeat(1024));
    assert.equal(attempts[0]!.succeeded, 1);
  });
});

describe("a slow consumer with more attempts due than connections", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ attemptTimeout: "1s" });
  });
  after(() => server.close());

  test("attempts queued for one of its connections are not failed for the wait: each has its full timeout once sent", async (t) => {
    // 250 attempts over the 64 connections a consumer gets: four rounds of 400 ms, the last ending well past one attempt timeout.
    const slow = await withReceiver(t, (_index, _webhook, response) => {
      const timer = setTimeout(() => response.writeHead(200).end(), 400);
      response.on("close", () => clearTimeout(timer));
    });
    const consumerId = await subscribe(server, slow.url, { eventTypes: ["read.completed"] });
    const company = await server.api("POST", "/companies", { name: "Busy consumer" });
    const payload = { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] };
    const events = Array.from({ length: 250 }, () => ({ eventType: "read.completed", companyId: company.body.id, payload }));
    assert.equal((await server.api("POST", "/events/batch", { events })).status, 201);
    const { deliveries, attempts } = await until(
      "every first attempt",
      () => recorded(server, consumerId),
      ({ deliveries }) => deliveries.length === 250 && deliveries.every((delivery) => delivery.attempt_count > 0),
    );
    assert.deepEqual(new Set(deliveries.map((delivery) => delivery.status)), new Set(["Success"]), "no attempt timed out while it waited");
    assert.equal(attempts.length, 250, "one attempt each");
    assert.ok(
      attempts.every((attempt) => attempt.duration_ms < 1000),
      "a duration counts from the request's sending, not from its wait",
    );
  });
});

describe("statuses while a retry is pending", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ retrySchedule: "1h" });
  });
  after(() => server.close());

  test("a failed first attempt leaves the delivery Attempting with the next attempt scheduled", async (t) => {
    const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(500).end());
    const consumerId = await subscribe(server, receiver.url);
    const before = Date.now();
    await server.api("POST", "/companies", { name: "Pending retry" });
    const { deliveries } = await until(
      "the first attempt",
      () => recorded(server, consumerId),
      ({ deliveries }) => deliveries[0]?.attempt_count === 1,
    );
    assert.equal(deliveries[0]!.status, "Attempting");
    assert.ok(deliveries[0]!.next_attempt_at! >= before + 3_600_000, "the retry waits the configured hour");
  });

  test("a consumer deleted with a retry pending loses it", async (t) => {
    const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(500).end());
    const consumerId = await subscribe(server, receiver.url);
    await server.api("POST", "/companies", { name: "Deleted consumer" });
    await until(
      "the first attempt",
      () => recorded(server, consumerId),
      ({ deliveries }) => deliveries[0]?.attempt_count === 1,
    );
    assert.equal((await server.api("DELETE", `/webhooks/${consumerId}`)).status, 204);
    const { deliveries, attempts } = await recorded(server, consumerId);
    assert.equal(deliveries.length, 0);
    assert.equal(attempts.length, 0, "its attempt log goes with it");
  });
});

describe("who receives what", () => {
  let server: TestServer;
  const receivers: Record<string, Receiver> = {};
  before(async () => {
    server = await startTestServer();
    for (const name of ["usOrT2k", "all", "eu", "caseDiffers", "failedOnly"]) receivers[name] = await Receiver.start();
  });
  after(async () => {
    await server.close();
    for (const receiver of Object.values(receivers)) await receiver.close();
  });

  test("company tag filters and event types pick the consumers of each event", async () => {
    await subscribe(server, receivers.usOrT2k!.url, { companyTags: ["region:us", "service:t2k"] });
    await subscribe(server, receivers.all!.url);
    await subscribe(server, receivers.eu!.url, { companyTags: ["region:eu"] });
    await subscribe(server, receivers.caseDiffers!.url, { companyTags: ["Region:us"] });
    await subscribe(server, receivers.failedOnly!.url, { eventTypes: ["connection.failed"] });

    const tagged = (await server.api("POST", "/companies", { name: "Tagged", tags: { region: "us", service: "minerva" } })).body;
    const untagged = (await server.api("POST", "/companies", { name: "Untagged" })).body;
    const t2k = (await server.api("POST", "/companies", { name: "T2K", tags: { service: "t2k" } })).body;

    const companyIds = async (receiver: Receiver, count: number) =>
      (await receiver.waitFor(count)).map((webhook) => JSON.parse(webhook.body).payload.id as string).sort();
    assert.deepEqual(await companyIds(receivers.all!, 3), [tagged.id, untagged.id, t2k.id].sort());
    assert.deepEqual(await companyIds(receivers.usOrT2k!, 2), [tagged.id, t2k.id].sort());

    // Nothing more can arrive for the others: every event reached the consumers that take everything.
    const marker = (await server.api("POST", "/companies", { name: "Marker", tags: { region: "eu" } })).body;
    assert.deepEqual(await companyIds(receivers.eu!, 1), [marker.id]);
    await receivers.all!.waitFor(4);
    assert.equal(receivers.caseDiffers!.received.length, 0, "tags are case-sensitive");
    assert.equal(receivers.failedOnly!.received.length, 0, "event types filter");
    assert.equal(receivers.usOrT2k!.received.length, 2);
  });

  test("unknown event types are refused with the list of valid ones", async () => {
    const response = await server.api("POST", "/webhooks", { url: receivers.all!.url, eventTypes: ["connection.failed", "connection.exploded"] });
    assert.equal(response.status, 400);
    assert.match(response.body.error, /connection\.exploded/);
    for (const valid of ["company.created", "connection.failed", "read.completed", "{dataType}.write.successful", "client.rateLimit.reached"]) {
      assert.ok(response.body.error.includes(valid), `lists ${valid}`);
    }
    assert.equal(response.body.validation.errors[0].itemId, "eventTypes");
  });

  test("write events may be subscribed per data type or for all of them", async () => {
    assert.equal((await server.api("POST", "/webhooks", { url: receivers.all!.url, eventTypes: ["invoices.write.successful"] })).status, 201);
    assert.equal((await server.api("POST", "/webhooks", { url: receivers.all!.url, eventTypes: ["{dataType}.write.unsuccessful"] })).status, 201);
    assert.equal((await server.api("POST", "/webhooks", { url: receivers.all!.url, eventTypes: ["notAType.write.successful"] })).status, 400);
  });
});

describe("destinations are checked against SSRF", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ allowedCidrs: "" });
  });
  after(() => server.close());

  for (const url of [
    "http://127.0.0.1:9/hooks",
    "http://localhost:9/hooks",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.1/hooks",
    "http://[::1]:9/hooks",
    "ftp://example.com/hooks",
  ]) {
    test(`refuses ${url} unless allow-listed`, async () => {
      const response = await server.api("POST", "/webhooks", { url, eventTypes: ["company.created"] });
      assert.equal(response.status, 400);
      assert.equal(response.body.validation.errors[0].itemId, "url");
      assert.equal((await server.api("GET", "/webhooks")).body.results.length, 0);
    });
  }
});

describe("a resend while an attempt is in flight", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ retrySchedule: "none", workerConcurrency: "2" });
  });
  after(() => server.close());

  test("the resent attempt's outcome stands; the older attempt, answered meanwhile, cannot overwrite it", async (t) => {
    const answers: Array<(status: number) => void> = [];
    const receiver = await withReceiver(t, (_index, _webhook, response) => answers.push((status) => response.writeHead(status).end()));
    const consumerId = await subscribe(server, receiver.url);
    await server.api("POST", "/companies", { name: "Resent in flight" });
    const [first] = await receiver.waitFor(1);
    const messageId = first!.headers["webhook-id"] as string;
    assert.equal((await server.api("POST", `/webhooks/${consumerId}/messages/${messageId}/resend`)).status, 202);
    // The worker's other loop sends the resent delivery while the first attempt still waits for its answer.
    await receiver.waitFor(2);
    answers[0]!(500);
    await until(
      "the older attempt logged",
      () => recorded(server, consumerId),
      ({ attempts }) => attempts.length === 1,
    );
    answers[1]!(204);
    const { deliveries, attempts } = await until(
      "both attempts logged",
      () => recorded(server, consumerId),
      ({ attempts }) => attempts.length === 2,
    );
    assert.deepEqual(
      attempts.map((attempt) => attempt.status_code),
      [500, 204],
    );
    assert.equal(deliveries[0]!.status, "Success", "the older attempt's failure did not take over the resent delivery");
  });
});

describe("recording under a busy database", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ attemptTimeout: "2s", workerLease: "10s" });
  });
  after(() => server.close());

  test("a batch sent while the database is locked past its lock timeout is recorded once it frees, not sent again", async (t) => {
    let lock: Promise<WriteLock> | undefined;
    // The receiver takes the database's write lock before it answers, so the worker's record of this attempt has to wait for it.
    const receiver = await withReceiver(t, (_index, _webhook, response) => {
      lock ??= holdWriteLock(server.database.url);
      void lock.then(() => response.writeHead(204).end());
    });
    t.after(async () => (await lock)?.release());
    const consumerId = await subscribe(server, receiver.url);
    await server.api("POST", "/companies", { name: "Busy" });
    await until("the attempt", async () => lock !== undefined);
    const held = await lock!;
    // SQLite gives up a write after 5 s of waiting for the lock: the lock is held until the worker's record was refused so at least once
    // (a record abandoned then would be sent again when the lease ran out). PostgreSQL has no lock timeout: there, until the record queues behind it.
    await until("the worker's record of the attempt held up by the lock", () => held.recordHeldUp(server));
    await held.release();
    const { deliveries, attempts } = await until(
      "the delivery recorded",
      () => recorded(server, consumerId),
      ({ deliveries }) => deliveries[0]?.status === "Success",
    );
    assert.equal(attempts.length, 1);
    assert.equal(deliveries[0]!.attempt_count, 1);
    assert.equal(receiver.received.length, 1, "the webhook was sent once");
  });
});

interface WriteLock {
  /** True once the worker's record of a sent batch has been held up by this lock, else what was seen so far. */
  recordHeldUp(server: TestServer): Promise<true | string>;
  /** Releases the lock (once; later calls do nothing). */
  release(): Promise<void>;
}

/** What the worker logs when its record of a sent batch fails (on SQLite, refused at the lock timeout) and is tried again. */
const RECORD_RETRIED = "recording a delivery batch failed; trying again while its lease holds";

/** Takes the database's write lock from a connection of the test's own. */
async function holdWriteLock(databaseUrl: string): Promise<WriteLock> {
  let released = false;
  if (databaseUrl.startsWith("sqlite:")) {
    const sqlite = new SqliteDatabase(databaseUrl.slice("sqlite:".length));
    sqlite.exec("BEGIN IMMEDIATE");
    return {
      async recordHeldUp(server) {
        const retried = server
          .logs()
          .split("\n")
          .filter((line) => line.includes(RECORD_RETRIED));
        return retried.some((line) => /SQLITE_BUSY|database is locked/.test(line)) || `no record refused by the lock yet (${retried.length} retried)`;
      },
      async release() {
        if (released) return;
        released = true;
        sqlite.exec("COMMIT");
        sqlite.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query("BEGIN");
  await client.query("LOCK TABLE attempts IN EXCLUSIVE MODE");
  return {
    async recordHeldUp() {
      // The worker's INSERT of the attempt, queued behind this lock.
      const { rows } = await client.query(
        "SELECT count(*)::int AS waiting FROM pg_locks WHERE relation = 'attempts'::regclass AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND NOT granted",
      );
      return rows[0].waiting > 0 || "nothing waits for the lock yet";
    },
    async release() {
      if (released) return;
      released = true;
      await client.query("COMMIT");
      await client.end();
    },
  };
}
