/**
 * One consumer's trouble is its own: a backlog of one consumer does not hold
 * back another's fresh events, and a slow one does not hold the worker.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startHookline } from "../src/server.ts";
import { subscribe } from "./support/consumers.ts";
import { withReceiver } from "./support/receiver.ts";
import { testConfig, withServer } from "./support/server.ts";

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
