/** /metrics reads the queue gauges from the database at most once per HOOKLINE_METRICS_QUEUE_REFRESH, however often it is scraped. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { subscribe } from "./support/consumers.ts";
import { withReceiver } from "./support/receiver.ts";
import { withServer, type TestServer } from "./support/server.ts";

const pending = async (server: TestServer) => {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  return Number(/^hookline_deliveries_pending (\S+)$/m.exec(text)![1]);
};

test("within the refresh period scrapes share one read of the queue; with 0 every scrape reads it", async (t) => {
  // API processes only: what is published stays queued.
  const cached = await withServer(t, { roles: "api", metricsQueueRefresh: "1h" });
  const live = await withServer(t, { roles: "api", metricsQueueRefresh: "0" });
  const receiver = await withReceiver(t);
  for (const server of [cached, live]) await subscribe(server, receiver.url);
  assert.deepEqual([await pending(cached), await pending(live)], [0, 0]);
  for (const server of [cached, live]) for (const name of ["One", "Two"]) await server.api("POST", "/companies", { name });
  assert.equal(await pending(live), 2, "read at this scrape");
  assert.equal(await pending(cached), 0, "the read of the first scrape, less than an hour old");
});
