/**
 * "At once, not at the next poll": a committed delivery wakes the workers,
 * and a retry wakes its worker when it falls due. Every server here polls only
 * every ten minutes, so a webhook that arrives within the test's wait came
 * from a wake-up (in-process, or NOTIFY between processes on PostgreSQL) or
 * from the worker's own timer for its next due delivery, never from the poll.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { testDialect } from "./support/database.ts";
import { subscribe } from "./support/consumers.ts";
import { withReceiver } from "./support/receiver.ts";
import { firstStart, Harness } from "./support/serve-process.ts";
import { withServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const IDLE_POLL = "10m";
/** Far below the poll: only a wake-up or the due timer delivers within it. */
const WAIT_MS = 20_000;

test("in one process, a new event wakes the idle worker, and a retry is made when it falls due", async (t) => {
  const server = await withServer(t, { workerIdlePoll: IDLE_POLL, retrySchedule: "300ms" });
  const receiver = await withReceiver(t, (index, _webhook, response) => response.writeHead(index === 0 ? 500 : 204).end());
  await subscribe(server, receiver.url);

  const company = await server.api("POST", "/companies", { name: "Woken" });
  const [first, retry] = await receiver.waitFor(2, WAIT_MS);
  assert.equal(JSON.parse(first!.body).payload.id, company.body.id);
  assert.equal(retry!.headers["webhook-id"], first!.headers["webhook-id"], "the retry of the failed attempt");
});

test(
  "across processes, a worker process hears of an event the API process committed at once (NOTIFY)",
  { skip: testDialect !== "postgres" && "PostgreSQL only: SQLite processes sharing a file find new work by polling" },
  async (t) => {
    const harness = new Harness(t);
    const database = await harness.database();
    const env = { HOOKLINE_WORKER_IDLE_POLL: IDLE_POLL };
    const { api } = await firstStart(harness, database.url, { roles: "api", env });
    await harness.serve(database.url, { roles: "worker", env });
    const receiver = await harness.receiver();
    assert.equal((await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] })).status, 201);

    // The worker process may still be starting: the first event proves it runs, and once that delivery is recorded it is idle.
    assert.equal((await api("POST", "/companies", { name: "First" })).status, 200);
    await receiver.waitFor(1, WAIT_MS);
    const store = await harness.store(database.url);
    await until("the first delivery recorded", async () => {
      const pending = await store.db.selectFrom("deliveries").select("status").where("status", "<>", "Success").execute();
      return pending.length === 0 || `${pending.length} pending`;
    });
    const company = await api("POST", "/companies", { name: "Notified" });
    const [, webhook] = await receiver.waitFor(2, WAIT_MS);
    assert.equal(JSON.parse(webhook!.body).payload.id, company.body.id);
  },
);
