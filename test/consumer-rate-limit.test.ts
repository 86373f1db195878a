import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PassThrough } from "node:stream";
import { startHookline, type Hookline } from "../src/server.ts";
import { recorded, subscribe, until } from "./support/consumers.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, testConfig, type TestServer } from "./support/server.ts";

/** The most arrivals within any `spanMs` starting at an arrival. */
function busiestWindow(times: readonly number[], spanMs: number): number {
  return Math.max(...times.map((start) => times.filter((time) => time >= start && time < start + spanMs).length));
}

describe("per-consumer rate limit, with two workers sharing the database", () => {
  let server: TestServer;
  let secondWorker: Hookline;
  before(async () => {
    server = await startTestServer();
    const config = testConfig(server.database.url, { roles: "worker" });
    secondWorker = await startHookline(config, { logDestination: new PassThrough().resume() });
  });
  after(async () => {
    await secondWorker.close();
    await server.close();
  });

  test("a consumer limited to 5/s never gets more than that, and an unlimited one on the same server is not held up", async () => {
    const limit = 5;
    const messages = 30;
    const limited = await Receiver.start();
    const unlimited = await Receiver.start();
    try {
      const limitedId = await subscribe(server, limited.url);
      assert.equal((await server.api("PATCH", `/webhooks/${limitedId}`, { rateLimit: limit })).body.rateLimit, limit);
      await subscribe(server, unlimited.url);
      for (let index = 0; index < messages; index++) await server.api("POST", "/companies", { name: `Company ${index}` });

      await unlimited.waitFor(messages);
      const unlimitedDone = Date.now();
      const arrivals = (await limited.waitFor(messages, 30_000)).map((webhook) => webhook.receivedAt);
      const last = arrivals[messages - 1]!;
      assert.ok(unlimitedDone < last - 2000, `the unlimited consumer had everything ${last - unlimitedDone} ms before the limited one`);

      // Sends are spaced 1/limit s apart; one may start late within its slot, hence the one extra.
      const offsets = arrivals.map((time) => time - arrivals[0]!);
      assert.ok(
        busiestWindow(arrivals, 1000) <= limit + 1,
        `at most ${limit + 1} in any second, got ${busiestWindow(arrivals, 1000)}: arrivals at ${offsets.join(", ")} ms`,
      );
      const perSecond = new Map<number, number>();
      for (const time of arrivals) perSecond.set(Math.floor(time / 1000), (perSecond.get(Math.floor(time / 1000)) ?? 0) + 1);
      assert.ok(Math.max(...perSecond.values()) <= limit + 1, `per calendar second: ${JSON.stringify([...perSecond.values()])}`);
      assert.ok(last - arrivals[0]! >= ((messages - limit - 1) / limit) * 1000, "the 30 messages took the time the limit asks for");

      const { attempts, deliveries } = await until(
        () => recorded(server, limitedId),
        ({ attempts }) => attempts.length >= messages,
        "every attempt recorded",
      );
      assert.equal(attempts.length, messages, "waiting for a send slot is not an attempt");
      const unexpected = attempts.filter((attempt) => attempt.attempt_number !== 1 || attempt.succeeded !== 1);
      assert.deepEqual(
        unexpected.map(({ attempt_number, status_code, error }) => ({ attempt_number, status_code, error })),
        [],
        "each message succeeded at its first attempt",
      );
      assert.deepEqual(
        deliveries.filter((delivery) => delivery.status !== "Success" || delivery.rate_slot_at !== null),
        [],
        "every delivery ended in Success and holds no slot",
      );
      assert.equal(new Set(limited.received.map((webhook) => webhook.headers["webhook-id"])).size, messages, "each message once");
    } finally {
      await limited.close();
      await unlimited.close();
    }
  });

  test("lifting the limit sends the waiting messages at once", async () => {
    const receiver = await Receiver.start();
    try {
      const id = await subscribe(server, receiver.url, { eventTypes: ["company.deleted"] });
      await server.api("PATCH", `/webhooks/${id}`, { rateLimit: 1 });
      const companies = [];
      for (let index = 0; index < 8; index++) companies.push((await server.api("POST", "/companies", { name: `Deleted ${index}` })).body.id);
      for (const companyId of companies) await server.api("DELETE", `/companies/${companyId}`);
      await receiver.waitFor(1);
      const lifted = Date.now();
      assert.equal((await server.api("PATCH", `/webhooks/${id}`, { rateLimit: null })).body.rateLimit, null);
      const arrivals = await receiver.waitFor(8);
      assert.ok(arrivals[7]!.receivedAt - lifted < 3000, "the rest came without waiting a second each");
    } finally {
      await receiver.close();
    }
  });
});
