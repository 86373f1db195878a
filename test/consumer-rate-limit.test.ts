import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PassThrough } from "node:stream";
import { startHookline, type Hookline } from "../src/server.ts";
import { recorded, subscribe } from "./support/consumers.ts";
import { withReceiver } from "./support/receiver.ts";
import { startTestServer, testConfig, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

/** The most of `times` within any `spanMs` starting at one of them. */
function busiestWindow(times: readonly number[], spanMs: number): number {
  return Math.max(...times.map((start) => times.filter((time) => time >= start && time < start + spanMs).length));
}

/** How many attempts to `consumerId` a worker logged (at debug level) having made. */
function attemptsLogged(logs: string, consumerId: string): number {
  return logs
    .split("\n")
    .filter((line) => line.includes('"delivery attempt"'))
    .filter((line) => JSON.parse(line).consumerId === consumerId).length;
}

describe("per-consumer rate limit, with two workers sharing the database", () => {
  let server: TestServer;
  let secondWorker: Hookline;
  let secondWorkerLogs = "";
  before(async () => {
    // Two Hooklines on one database, each with its own connections and worker: the test server (API and worker) and a worker alone.
    server = await startTestServer();
    const logs = new PassThrough();
    logs.on("data", (chunk: Buffer) => (secondWorkerLogs += chunk.toString("utf8")));
    secondWorker = await startHookline({ ...testConfig(server.database.url, { roles: "worker" }), logLevel: "debug" }, { logDestination: logs });
  });
  after(async () => {
    await secondWorker.close();
    await server.close();
  });

  test("a consumer limited to 5/s never gets more than that, and an unlimited one on the same server is not held up", async (t) => {
    const limit = 5;
    const messages = 30;
    const limited = await withReceiver(t);
    const unlimited = await withReceiver(t);
    const limitedId = await subscribe(server, limited.url);
    assert.equal((await server.api("PATCH", `/webhooks/${limitedId}`, { rateLimit: limit })).body.rateLimit, limit);
    await subscribe(server, unlimited.url);
    for (let index = 0; index < messages; index++) await server.api("POST", "/companies", { name: `Company ${index}` });

    await unlimited.waitFor(messages);
    const unlimitedDone = Date.now();
    const arrivals = (await limited.waitFor(messages, 30_000)).map((webhook) => webhook.receivedAt);
    const last = arrivals[messages - 1]!;
    assert.ok(unlimitedDone < last - 2000, `the unlimited consumer had everything ${last - unlimitedDone} ms before the limited one`);

    const { attempts, deliveries } = await until(
      "every attempt recorded",
      () => recorded(server, limitedId),
      ({ attempts }) => attempts.length >= messages,
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

    // The limit holds on the moments the workers sent, as they recorded them: sends are spaced 1/limit s apart,
    // and one may start late within its slot, hence the one extra.
    const sent = attempts.map((attempt) => attempt.started_at).sort((a, b) => a - b);
    const sentOffsets = sent.map((time) => time - sent[0]!);
    assert.ok(
      busiestWindow(sent, 1000) <= limit + 1,
      `at most ${limit + 1} sent in any second, got ${busiestWindow(sent, 1000)}: sent at ${sentOffsets.join(", ")} ms`,
    );
    assert.ok(
      sent[messages - 1]! - sent[0]! >= ((messages - limit - 1) / limit) * 1000,
      `the 30 sends took the time the limit asks for: ${sentOffsets.join(", ")} ms`,
    );
    // The receiver sees the same pace, give or take arrivals that bunch up while this machine is busy.
    const arrivalOffsets = arrivals.map((time) => time - arrivals[0]!);
    assert.ok(busiestWindow(arrivals, 1000) <= 2 * limit, `at most ${2 * limit} arrived in any second: arrivals at ${arrivalOffsets.join(", ")} ms`);
    assert.ok(last - arrivals[0]! >= ((messages - limit - 1) / limit) * 1000, "the 30 messages took the time the limit asks for");

    // Both workers sent some: the limit held across them, not because one of them did all the work.
    const byWorker = [attemptsLogged(server.logs(), limitedId), attemptsLogged(secondWorkerLogs, limitedId)];
    assert.equal(byWorker[0]! + byWorker[1]!, messages, `every attempt was made by one of the two workers: ${byWorker.join(" + ")}`);
    assert.ok(byWorker[0]! > 0 && byWorker[1]! > 0, `each worker sent some of them: ${byWorker.join(" and ")}`);
  });

  test("lifting the limit sends the waiting messages at once", async (t) => {
    const receiver = await withReceiver(t);
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
  });
});
