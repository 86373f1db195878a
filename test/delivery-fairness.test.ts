/**
 * One consumer's trouble is its own: a backlog of one consumer does not hold
 * back another's fresh events, and a slow one does not hold the worker.
 */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { test } from "node:test";
import { startHookline } from "../src/server.ts";
import { recorded, subscribe } from "./support/consumers.ts";
import { withReceiver } from "./support/receiver.ts";
import { testConfig, withServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const BACKLOG = 600;

test("a consumer's backlog drains beside another consumer's fresh events, which go in the next batch rather than behind it", async (t) => {
  // The API alone first, so that the backlog is queued before any worker runs, as after an outage.
  const server = await withServer(t, { roles: "api" });
  const backlogged = await withReceiver(t);
  const fresh = await withReceiver(t);
  await subscribe(server, backlogged.url, { eventTypes: ["company.created"] });
  await subscribe(server, fresh.url, { eventTypes: ["read.completed"] });
  for (let start = 0; start < BACKLOG; start += 25) {
    const created = await Promise.all(
      Array.from({ length: Math.min(25, BACKLOG - start) }, (_, index) => server.api("POST", "/companies", { name: `Backlog ${start + index}` })),
    );
    for (const response of created) assert.equal(response.status, 200);
  }
  const published = await server.api("POST", "/events", {
    eventType: "read.completed",
    payload: { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] },
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));

  // Small batches, one at a time: draining the backlog alone takes 38 of them.
  const worker = await startHookline({
    ...testConfig(server.database.url, { roles: "worker", workerBatchSize: "16", workerConcurrency: "1" }),
    logLevel: "silent",
  });
  t.after(() => worker.close());
  await fresh.waitFor(1);
  const backlogSent = backlogged.received.length;
  assert.ok(backlogSent <= 16, `the fresh event went out in the first batch, with ${backlogSent} of the backlog's ${BACKLOG}`);
  await backlogged.waitFor(BACKLOG, 60_000);
  const ids = backlogged.events().map((event) => event.id);
  assert.equal(new Set(ids).size, BACKLOG, "the whole backlog was delivered, each event once");
});

test("a consumer that answers slowly holds only its own deliveries, at most its concurrency at once, and none of another consumer's", async (t) => {
  const server = await withServer(t, { workerConcurrency: "1", slowConsumerConcurrency: "2", attemptTimeout: "20s" });
  // The slow receiver keeps every answer until the test lets them go.
  const held: ServerResponse[] = [];
  let open = 0;
  let mostOpen = 0;
  let holding = true;
  const slow = await withReceiver(t, (_index, _webhook, response) => {
    if (!holding) return response.writeHead(204).end();
    open++;
    mostOpen = Math.max(mostOpen, open);
    held.push(response);
  });
  const fast = await withReceiver(t);
  const slowId = await subscribe(server, slow.url, { eventTypes: ["company.created"] });
  await subscribe(server, fast.url, { eventTypes: ["company.created"] });

  for (let index = 0; index < 6; index++) assert.equal((await server.api("POST", "/companies", { name: `Company ${index}` })).status, 200);
  // One worker loop: without the slow consumer set apart, its first unanswered attempt would hold every later batch.
  await fast.waitFor(6);
  await until("two attempts open at the slow receiver", async () => open === 2);
  assert.equal(slow.received.length, 2, "the slow consumer gets no more than its concurrency while it has not answered");

  holding = false;
  for (const response of held.splice(0)) {
    open--;
    response.writeHead(204).end();
  }
  const { deliveries, attempts } = await until(
    "every delivery to the slow consumer done",
    () => recorded(server, slowId),
    ({ deliveries }) => deliveries.length === 6 && deliveries.every((delivery) => delivery.status === "Success"),
  );
  assert.equal(mostOpen, 2, "never more than two at once");
  assert.equal(attempts.length, 6, "deliveries waiting for the slow consumer spent no attempt while they waited");
  assert.equal(new Set(slow.events().map((event) => event.id)).size, 6);
  assert.equal(deliveries.length, 6);
});
