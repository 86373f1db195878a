/**
 * Scale-out: one API process and three worker processes share one database
 * (PostgreSQL in the PostgreSQL pass, one SQLite file in the SQLite pass).
 * Workers claim disjoint batches, and when one is killed mid-run its leased
 * deliveries are taken over once the lease runs out. Every delivery arrives;
 * a delivery arrives twice only if the killed worker sent it without being
 * able to record it, or if an attempt timed out after the receiver got it
 * (then it is retried, as at-least-once delivery must), so duplicates are
 * bounded by the batches the killed worker had in flight plus the failed
 * attempts on record.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Receiver } from "./support/receiver.ts";
import { firstStart, Harness } from "./support/serve-process.ts";
import { freePort } from "./support/server.ts";
import { until } from "./support/wait.ts";

// The claims (disjoint batches, takeover after a kill, one recorded success each, duplicates bounded by what was in
// flight) need many batches across three workers and work left when one dies, not a large total: 1,000 deliveries
// in batches of 20 are 50 batches, and a third of the deliveries arrive before the kill. Once the companies are
// made, what the run waits on is the killed worker's leases running out.
const COMPANIES = 250;
const CONSUMERS = 4;
const BATCH_SIZE = 20;
const CONCURRENCY = 2;
/** A worker holds CONCURRENCY batches at once: at most that many deliveries can be sent but not yet recorded when it dies. */
const IN_FLIGHT = BATCH_SIZE * CONCURRENCY;
const WORKER_ENV = {
  HOOKLINE_WORKER_BATCH_SIZE: String(BATCH_SIZE),
  HOOKLINE_WORKER_CONCURRENCY: String(CONCURRENCY),
  HOOKLINE_ATTEMPT_TIMEOUT: "3s",
  // Four times the attempt timeout, as in the defaults (60s and 15s): a live worker's batch, slowed by four processes
  // contending for one SQLite file, must still be recorded within its lease, or another worker sends it again. Its
  // attempts end one timeout before the lease does, which leaves that long to record them: a shorter timeout and lease
  // would make the wait after the kill shorter, but a double send (which this test fails on) likelier.
  HOOKLINE_WORKER_LEASE: "12s",
  // Workers in other processes hear of new work through NOTIFY on PostgreSQL; on SQLite they poll.
  HOOKLINE_WORKER_IDLE_POLL: "100ms",
  HOOKLINE_RETRY_SCHEDULE: "200ms,200ms,200ms,200ms,200ms",
};

test(`1 API + 3 worker processes deliver ${COMPANIES * CONSUMERS} webhooks with a worker killed mid-run`, { timeout: 120_000 }, async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const receivers: Receiver[] = [];
  for (let index = 0; index < CONSUMERS; index++) receivers.push(await harness.receiver());
  const { api } = await firstStart(harness, database.url, { roles: "api", env: WORKER_ENV });
  for (const receiver of receivers) {
    assert.equal((await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] })).status, 201);
  }
  // Each worker serves /healthz on a port of its own: the companies are made once all three run, not while they load.
  const workers = await Promise.all(
    Array.from({ length: 3 }, async () => {
      const port = await freePort();
      const worker = await harness.serve(database.url, { port, roles: "worker", env: { ...WORKER_ENV, HOOKLINE_METRICS_PORT: String(port) } });
      await worker.ready();
      return worker;
    }),
  );

  const received = () => receivers.reduce((sum, receiver) => sum + receiver.received.length, 0);
  let killedAt = -1;
  const killWhenBusy = (async () => {
    await until("a third of the deliveries", async () => received() >= (COMPANIES * CONSUMERS) / 3 || `${received()} received`);
    killedAt = received();
    await workers[0]!.kill();
  })();

  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < COMPANIES) {
        const index = next++;
        const response = await api("POST", "/companies", { name: `Scale ${index}` });
        assert.equal(response.status, 200);
      }
    }),
  );
  await killWhenBusy;
  assert.ok(killedAt > 0 && killedAt < COMPANIES * CONSUMERS, "the worker was killed while deliveries were still pending");

  const store = await harness.store(database.url);
  await until("every delivery recorded as successful", async () => {
    const pending = await store.db
      .selectFrom("deliveries")
      .select((eb) => eb.fn.countAll<number>().as("count"))
      .where("status", "<>", "Success")
      .executeTakeFirstOrThrow();
    return Number(pending.count) === 0 || `${pending.count} deliveries not yet successful`;
  });

  let duplicates = 0;
  for (const receiver of receivers) {
    const ids = receiver.received.map((webhook) => webhook.headers["webhook-id"] as string);
    const unique = new Set(ids);
    assert.equal(unique.size, COMPANIES, "each consumer got every event");
    duplicates += ids.length - unique.size;
  }
  // A machine loaded by other tests can make a receiver answer after the attempt timed out: such an attempt is retried, and may arrive twice.
  const failed = await store.db
    .selectFrom("attempts")
    .select((eb) => eb.fn.countAll<number>().as("count"))
    .where("succeeded", "=", 0)
    .executeTakeFirstOrThrow();
  assert.ok(
    duplicates <= IN_FLIGHT + Number(failed.count),
    `${duplicates} duplicates with ${failed.count} failed attempts: only what the killed worker had in flight, unrecorded, and retried attempts may repeat`,
  );

  const successes = await store.db
    .selectFrom("attempts")
    .select((eb) => ["delivery_id", eb.fn.countAll<number>().as("count")])
    .where("succeeded", "=", 1)
    .groupBy("delivery_id")
    .execute();
  assert.equal(successes.length, COMPANIES * CONSUMERS);
  assert.ok(
    successes.every((row) => Number(row.count) === 1),
    "each delivery has exactly one recorded success",
  );
  t.diagnostic(`killed a worker after ${killedAt} deliveries; ${duplicates} duplicates; ${failed.count} failed attempts`);
});
