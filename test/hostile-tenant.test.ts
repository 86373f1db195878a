/**
 * A tenant who tries to take the service down: huge events fanned out to
 * hundreds of consumers that never answer, consumers whose requests are too
 * much for the sender, deliveries whose sends keep killing the process. The
 * server runs as a real `serve` process, so a crash is seen as one; it must
 * stay up, keep serving the other tenants, and end the poisoned deliveries
 * on their schedule like any others.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { loadConfig } from "../src/config.ts";
import type { Store } from "../src/storage/database.ts";
import { runCli } from "./support/cli.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { firstStart, Harness, type Api, type ServeOptions } from "./support/serve-process.ts";
import { callApi, freePort, withServer } from "./support/server.ts";
import { until, WAIT_MS } from "./support/wait.ts";
import { asId, type ConsumerId } from "../src/ids.ts";

/** Two retries 200 ms apart: a delivery that keeps failing is final after three attempts. */
const ATTEMPTS = 3;
const FAST_SCHEDULE = {
  HOOKLINE_RETRY_SCHEDULE: "200ms,200ms",
  HOOKLINE_ATTEMPT_TIMEOUT: "1s",
  HOOKLINE_WORKER_LEASE: "3s",
  HOOKLINE_WORKER_IDLE_POLL: "200ms",
};

const READ_COMPLETED = { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] };

/** A receiver that reads every request and never answers; it keeps no bodies (they may be large), only a count. */
class Stalled {
  requests = 0;
  private constructor(private readonly server: Server) {
    server.on("request", (request) => {
      this.requests++;
      request.resume();
    });
  }
  static async start(): Promise<Stalled> {
    const server = createServer().listen(0, "127.0.0.1");
    await once(server, "listening");
    return new Stalled(server);
  }
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }
}

async function subscribeMany(api: Api, count: number, url: string, eventTypes = ["company.created"]): Promise<string[]> {
  const ids: string[] = [];
  // A few at a time: the point is the fan-out, not a burst on the API.
  for (let start = 0; start < count; start += 25) {
    const created = await Promise.all(Array.from({ length: Math.min(25, count - start) }, () => api("POST", "/webhooks", { url, eventTypes })));
    for (const response of created) {
      assert.equal(response.status, 201, JSON.stringify(response.body));
      ids.push(response.body.id);
    }
  }
  return ids;
}

/** A second client of the same server, made with the CLI, and its API. */
async function bystander(databaseUrl: string, baseUrl: string): Promise<Api> {
  const created = JSON.parse((await runCli(databaseUrl, "clients", "create", "Bystander")).stdout);
  return (method, path, body) => callApi(baseUrl, created.apiKey, method, path, body);
}

/** Every delivery to these consumers is final and failed, after the whole schedule. */
function allFailed(store: Store, consumerIds: string[]) {
  return async (): Promise<true | string> => {
    const rows = await store.db
      .selectFrom("deliveries")
      .select(["status", "attempt_count"])
      .where(
        "consumer_id",
        "in",
        consumerIds.map((id) => asId<ConsumerId>(id)),
      )
      .execute();
    const final = rows.filter((row) => row.status === "Failure" && row.attempt_count === ATTEMPTS).length;
    return (rows.length === consumerIds.length && final === rows.length) || `${final} of ${rows.length} deliveries failed after ${ATTEMPTS} attempts`;
  };
}

test("a large non-Latin-1 event to hundreds of consumers that never answer: the server stays up, serves another tenant, and the deliveries end", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const options: ServeOptions = { env: { ...FAST_SCHEDULE, HOOKLINE_MAX_CONSUMERS_PER_CLIENT: "300" } };
  const { server, api } = await firstStart(harness, database.url, options);
  const store = await harness.store(database.url);
  const stalled = await Stalled.start();
  t.after(() => stalled.close());
  const attackers = await subscribeMany(api, 300, stalled.url, ["read.completed"]);

  const other = await bystander(database.url, server.baseUrl);
  const receiver = await harness.receiver();
  assert.equal((await other("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] })).status, 201);

  // About 240 KB of UTF-8 (two bytes a character, and two in V8's strings too), to each of the 300 consumers.
  const payload = { ...READ_COMPLETED, note: "\u0100".repeat(120_000) };
  const flood = await api("POST", "/events", { eventType: "read.completed", payload });
  assert.equal(flood.status, 201, JSON.stringify(flood.body).slice(0, 500));
  await until("the flood's attempts to be under way", async () => stalled.requests > 0 || "no request yet");

  const company = await other("POST", "/companies", { name: "Bystander Ltd" });
  assert.equal(company.status, 200);
  const [webhook] = await receiver.waitFor(1, WAIT_MS);
  assert.equal(JSON.parse(webhook!.body).payload.id, company.body.id, "the other tenant's event arrives while the flood is being sent");

  await until("every delivery of the flood to end in Failure", allFailed(store, attackers));
  assert.ok(server.running, `the server is still up:\n${server.logs()}`);
  assert.doesNotMatch(server.logs(), /sender thread failed/, "the sender never ran out of memory");
  assert.equal((await other("GET", "/companies")).status, 200);
});

test("a sender thread that runs out of memory is replaced: the batches it held are recorded as failed attempts, and their deliveries end", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  // An operator's mistake made on purpose: a heap too small for the budget it must hold. The thread starts in about
  // 10 MB here; the batch below needs more than 24 MB (16 MB of header values, and each request's own copy).
  const env = { ...FAST_SCHEDULE, HOOKLINE_MAX_CONSUMERS_PER_CLIENT: "201", HOOKLINE_SENDER_HEAP_MB: "20", HOOKLINE_WORKER_BODY_BUDGET_BYTES: String(1 << 30) };
  const { server, api } = await firstStart(harness, database.url, { env });
  const store = await harness.store(database.url);
  const stalled = await Stalled.start();
  t.after(() => stalled.close());
  // Each consumer has 20 headers of 4,000 characters: 80 KB more for every request in flight.
  const heavy = await subscribeMany(api, 200, stalled.url, ["read.completed"]);
  await Promise.all(
    heavy.map(async (id, index) => {
      const headers = Object.fromEntries(Array.from({ length: 20 }, (_, n) => [`x-padding-${n}`, `${index}-${n}-`.padEnd(4000, "p")]));
      const response = await api("PUT", `/webhooks/${id}/headers`, { headers });
      assert.equal(response.status, 200, JSON.stringify(response.body).slice(0, 500));
    }),
  );

  assert.equal((await api("POST", "/events", { eventType: "read.completed", payload: READ_COMPLETED })).status, 201);
  await until("every delivery to the heavy consumers to end in Failure", allFailed(store, heavy));
  const attempts = await store.db
    .selectFrom("attempts")
    .select("error")
    .where(
      "consumer_id",
      "in",
      heavy.map((id) => asId<ConsumerId>(id)),
    )
    .execute();
  assert.ok(
    attempts.some((attempt) => /Outcome unknown: the sender thread failed: ERR_WORKER_OUT_OF_MEMORY/.test(attempt.error ?? "")),
    `some attempts were lost with the thread, and say why: ${[...new Set(attempts.map((attempt) => attempt.error))].join(" | ")}`,
  );
  assert.match(server.logs(), /sender thread failed/);
  assert.ok(server.running, `the server is still up:\n${server.logs()}`);

  // A new thread took over: an ordinary delivery goes through.
  const receiver = await harness.receiver();
  assert.equal((await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] })).status, 201);
  const company = await api("POST", "/companies", { name: "Light" });
  const [webhook] = await receiver.waitFor(1, WAIT_MS);
  assert.equal(JSON.parse(webhook!.body).payload.id, company.body.id);
});

test("a delivery whose sends keep killing the process is counted at each restart and ends in Failure, not sent for ever", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const port = await freePort();
  // The attempt outlives the kill (its receiver never answers); the lease is the shortest the timeout allows.
  const options: ServeOptions = {
    port,
    env: { HOOKLINE_RETRY_SCHEDULE: "200ms", HOOKLINE_ATTEMPT_TIMEOUT: "2s", HOOKLINE_WORKER_LEASE: "5s", HOOKLINE_WORKER_IDLE_POLL: "200ms" },
  };
  const { server, api } = await firstStart(harness, database.url, options);
  const store = await harness.store(database.url);
  const stalled = await Stalled.start();
  t.after(() => stalled.close());
  const [consumerId] = await subscribeMany(api, 1, stalled.url);
  assert.equal((await api("POST", "/companies", { name: "Poison" })).status, 200);

  let running = server;
  for (let sends = 1; sends <= 2; sends++) {
    await until(`send ${sends} of the delivery`, async () => stalled.requests >= sends || `${stalled.requests} sends`);
    await running.kill();
    running = await harness.serve(database.url, options);
  }
  await until("the delivery to end in Failure", allFailedAfter(store, consumerId!, 2));
  const attempts = await store.db
    .selectFrom("attempts")
    .select(["attempt_number", "error", "status_code"])
    .where("consumer_id", "=", asId<ConsumerId>(consumerId!))
    .orderBy("attempt_number")
    .execute();
  assert.deepEqual(
    attempts.map((attempt) => [attempt.attempt_number, attempt.status_code]),
    [
      [1, null],
      [2, null],
    ],
  );
  for (const attempt of attempts) assert.match(attempt.error ?? "", /Outcome unknown: the worker holding the last claim stopped before recording it/);
  assert.equal(stalled.requests, 2, "each attempt on the schedule was sent once, and no more after the last");
});

function allFailedAfter(store: Store, consumerId: string, attempts: number) {
  return async (): Promise<true | string> => {
    const row = await store.db
      .selectFrom("deliveries")
      .select(["status", "attempt_count"])
      .where("consumer_id", "=", asId<ConsumerId>(consumerId))
      .executeTakeFirst();
    return (row?.status === "Failure" && row.attempt_count === attempts) || `delivery ${JSON.stringify(row)}`;
  };
}

describe("per-client limits", () => {
  test("a client may have so many consumers, and one publish may create so many deliveries; refused requests change nothing", async (t) => {
    const server = await withServer(t, { maxConsumersPerClient: "3", maxPublishFanout: "5" });
    const url = "http://127.0.0.1:9/hooks";
    for (let n = 0; n < 3; n++) assert.equal((await server.api("POST", "/webhooks", { url, eventTypes: ["read.completed"] })).status, 201);
    const refused = await server.api("POST", "/webhooks", { url, eventTypes: ["read.completed"] });
    assertErrorMessage(refused, 400, "a fourth consumer", /already has 3 webhook consumers/);
    assert.equal((await server.api("GET", "/webhooks")).body.results.length, 3);
    // The limit is each client's own.
    const other = await server.addClient("Other");
    assert.equal((await other.api("POST", "/webhooks", { url, eventTypes: ["read.completed"] })).status, 201);

    const event = { eventType: "read.completed", payload: READ_COMPLETED };
    const twoEvents = await server.api("POST", "/events/batch", { events: [event, event] });
    assertErrorMessage(twoEvents, 400, "a batch over the fan-out limit", /would create 6 deliveries .* more than the 5 one request may/);
    assert.equal((await server.api("GET", "/messages")).body.results.length, 0, "nothing of the refused batch was recorded");
    assert.equal((await server.api("POST", "/events", event)).status, 201, "one event to three consumers is within the limit");

    const [first] = (await server.api("GET", "/webhooks")).body.results;
    assert.equal((await server.api("DELETE", `/webhooks/${first.id}`)).status, 204);
    assert.equal((await server.api("POST", "/webhooks", { url, eventTypes: ["read.completed"] })).status, 201, "a deleted consumer frees its place");
  });

  test("the configuration refuses a lease too short to cover an attempt and its record", () => {
    assert.throws(
      () => loadConfig({}, { attemptTimeout: "15s", workerLease: "30s" }),
      /HOOKLINE_WORKER_LEASE \(30000 ms\) must be at least twice HOOKLINE_ATTEMPT_TIMEOUT \(15000 ms\) plus 1000 ms: 31000 ms/,
    );
    assert.equal(loadConfig({}, { attemptTimeout: "15s", workerLease: "31s" }).delivery.leaseMs, 31_000);
    assert.throws(() => loadConfig({}, { maxConsumersPerClient: "0" }), /HOOKLINE_MAX_CONSUMERS_PER_CLIENT must be at least 1/);
  });
});
