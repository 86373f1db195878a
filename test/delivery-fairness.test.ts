/**
 * One consumer's trouble is its own: a backlog of one consumer does not hold
 * back another's fresh events, and a slow one does not hold the worker.
 */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { test } from "node:test";
import type { Clock } from "../src/clock.ts";
import { startHookline } from "../src/server.ts";
import { recorded, subscribe } from "./support/consumers.ts";
import { withReceiver } from "./support/receiver.ts";
import { callApi, freePort, testConfig, withServer } from "./support/server.ts";
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
  // One batch at a time and no fresh lane: what goes out before the consumer is known to be slow is one batch's.
  const server = await withServer(t, { workerConcurrency: "1", workerFreshBatchSize: "0", attemptTimeout: "20s" });
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
  // Its own cap, below the operator's default of 16.
  assert.equal((await server.api("PATCH", `/webhooks/${slowId}`, { slowConcurrency: 2 })).body.slowConcurrency, 2);
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

test("while every batch is held by a consumer's backlog, another consumer's fresh event goes out in the fresh lane, before any of them ends", async (t) => {
  // The API alone first, so that the backlog is queued before any worker runs.
  const server = await withServer(t, { roles: "api" });
  const held: ServerResponse[] = [];
  let holding = true;
  const backlogged = await withReceiver(t, (_index, _webhook, response) => {
    if (holding) held.push(response);
    else response.writeHead(204).end();
  });
  const fresh = await withReceiver(t);
  await subscribe(server, backlogged.url, { eventTypes: ["company.created"] });
  await subscribe(server, fresh.url, { eventTypes: ["read.completed"] });
  for (let index = 0; index < 40; index++) assert.equal((await server.api("POST", "/companies", { name: `Backlog ${index}` })).status, 200);

  // A second process, API and worker, whose clock runs 5 s ahead: the backlog fell due long before for it, so it
  // is the batches' to send, and what its own API publishes falls due now. One batch loop, its batch held for as
  // long as the test likes: neither split off as slow nor timed out.
  const ahead: Clock = { now: () => Date.now() + 5_000 };
  const port = await freePort();
  const config = testConfig(server.database.url, {
    port: String(port),
    workerConcurrency: "1",
    workerBatchSize: "16",
    slowConsumerAfter: "60s",
    attemptTimeout: "20s",
  });
  const worker = await startHookline({ ...config, logLevel: "silent" }, { clock: ahead });
  t.after(() => worker.close());
  await until("the batch loop holding a full batch", async () => held.length === 16);

  const published = await callApi(config.publicUrl, server.apiKey, "POST", "/events", {
    eventType: "read.completed",
    payload: { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] },
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  await fresh.waitFor(1);
  assert.equal(held.length, 16, "the fresh event went out while the batch was still held, and nothing else did");

  holding = false;
  for (const response of held.splice(0)) response.writeHead(204).end();
  await backlogged.waitFor(40);
  assert.equal(new Set(backlogged.events().map((event) => event.id)).size, 40, "the backlog was delivered, each event once");
  assert.equal(fresh.received.length, 1);
});

test("a batch whose other attempts have all come back does not wait for a straggler: the next events go out while it is still unanswered", async (t) => {
  // Nothing makes the straggler's consumer slow before a minute, and no fresh lane takes the next events instead.
  const server = await withServer(t, { workerConcurrency: "1", workerFreshBatchSize: "0", slowConsumerAfter: "60s", attemptTimeout: "20s" });
  const held: ServerResponse[] = [];
  const straggler = await withReceiver(t, (_index, _webhook, response) => held.push(response));
  const fast = await withReceiver(t);
  const stragglerId = await subscribe(server, straggler.url, { eventTypes: ["company.created"] });
  await subscribe(server, fast.url, { eventTypes: ["company.created", "read.completed"] });
  assert.equal((await server.api("POST", "/companies", { name: "Both" })).status, 200);
  await fast.waitFor(1);
  await until("the straggler's attempt open", async () => held.length === 1);

  const published = await server.api("POST", "/events", {
    eventType: "read.completed",
    payload: { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] },
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  await fast.waitFor(2);
  assert.equal((await recorded(server, stragglerId)).attempts.length, 0, "the next event went out while the straggler was still unanswered");
  held[0]!.writeHead(204).end();
  // Set apart, it is recorded once it ends, with its one attempt.
  const { attempts } = await until(
    "the straggler's delivery recorded",
    () => recorded(server, stragglerId),
    ({ deliveries }) => deliveries.length === 1 && deliveries[0]!.status === "Success",
  );
  assert.equal(attempts.length, 1);
});
