/**
 * What Hookline does when receivers are not healthy: a throttling receiver's
 * Retry-After, an endpoint that answers 410 Gone, a redirect, and the circuit
 * breaker of a consumer that stops answering.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { asId, type ConsumerId } from "../src/ids.ts";
import { RELEASE_STEP } from "../src/storage/deliveries/park.ts";
import { recorded, subscribe } from "./support/consumers.ts";
import { withReceiver } from "./support/receiver.ts";
import { startHookline } from "../src/server.ts";
import { startTestServer, testConfig, withServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const delivered = (server: TestServer, consumerId: string, count: number, status = "Success") =>
  until(
    `${count} deliveries to ${consumerId} in ${status}`,
    () => recorded(server, consumerId),
    ({ deliveries }) => deliveries.length === count && deliveries.every((delivery) => delivery.status === status),
  );

describe("what the receiver says", () => {
  test("a 429 with Retry-After in seconds moves the next attempt to then, and the attempt records it", async (t) => {
    const server = await withServer(t, { retrySchedule: "50ms,10s" });
    const receiver = await withReceiver(t, (index, _webhook, response) => {
      if (index === 0) response.writeHead(429, { "retry-after": "2" }).end();
      else response.writeHead(204).end();
    });
    const consumerId = await subscribe(server, receiver.url);
    await server.api("POST", "/companies", { name: "Throttled" });
    const { deliveries, attempts } = await until(
      "the throttled attempt recorded",
      () => recorded(server, consumerId),
      ({ attempts }) => attempts.length >= 1,
    );
    assert.equal(attempts[0]!.status_code, 429);
    assert.equal(attempts[0]!.error, "HTTP 429, Retry-After: 2");
    if (deliveries[0]!.status === "Attempting") {
      // Not the schedule's 50 ms: the 2 s the receiver asked for, counted from when the outcome was recorded.
      assert.ok(deliveries[0]!.next_attempt_at! >= attempts[0]!.started_at + 2000, "the retry waits the 2 s asked for");
    }
    await receiver.waitFor(2);
    assert.ok(receiver.received[1]!.receivedAt - receiver.received[0]!.receivedAt >= 2000, "the second attempt came after 2 s, not 50 ms");
    await delivered(server, consumerId, 1);
  });

  test("a Retry-After longer than the schedule's longest step waits that step; a 503 is read the same way", async (t) => {
    const server = await withServer(t, { retrySchedule: "50ms,1500ms" });
    const receiver = await withReceiver(t, (index, _webhook, response) => {
      if (index === 0) response.writeHead(503, { "retry-after": "86400" }).end();
      else response.writeHead(204).end();
    });
    const consumerId = await subscribe(server, receiver.url);
    await server.api("POST", "/companies", { name: "Asks for a day" });
    await receiver.waitFor(2);
    const gap = receiver.received[1]!.receivedAt - receiver.received[0]!.receivedAt;
    assert.ok(gap >= 1500, `the retry waited the longest step (1.5 s), not the schedule's 50 ms: ${gap} ms`);
    const { attempts } = await delivered(server, consumerId, 1);
    assert.equal(attempts[0]!.error, "HTTP 503, Retry-After: 86400");
  });

  test("a Retry-After shorter than the schedule's step does not hasten the retry", async (t) => {
    const server = await withServer(t, { retrySchedule: "1500ms" });
    const receiver = await withReceiver(t, (index, _webhook, response) => {
      if (index === 0) response.writeHead(429, { "retry-after": "0" }).end();
      else response.writeHead(204).end();
    });
    const consumerId = await subscribe(server, receiver.url);
    await server.api("POST", "/companies", { name: "Asks for now" });
    await receiver.waitFor(2);
    const gap = receiver.received[1]!.receivedAt - receiver.received[0]!.receivedAt;
    assert.ok(gap >= 1500, `the retry waited the schedule's 1.5 s: ${gap} ms`);
    await delivered(server, consumerId, 1);
  });

  test("410 Gone disables the consumer at once, says why in webhook.consumer.disabled, and nothing more is sent to it", async (t) => {
    const server = await withServer(t, { retrySchedule: "50ms,50ms,50ms" });
    const gone = await withReceiver(t, (_index, _webhook, response) => response.writeHead(410).end("gone"));
    const watcher = await withReceiver(t);
    const goneId = await subscribe(server, gone.url);
    await subscribe(server, watcher.url, { eventTypes: ["webhook.consumer.disabled"] });
    await server.api("POST", "/companies", { name: "To a gone endpoint" });

    const [disabledEvent] = await watcher.waitFor(1);
    const event = JSON.parse(disabledEvent!.body);
    assert.equal(event.eventType, "webhook.consumer.disabled");
    assert.equal(event.payload.consumerId, goneId);
    assert.match(event.payload.reason, /410 Gone/);
    assert.equal((await server.api("GET", `/webhooks/${goneId}`)).body.disabled, true);

    await server.api("POST", "/companies", { name: "After it went" });
    // Its delivery's remaining attempts fall due while disabled: skipped, each recorded without a request; the later event is not for it.
    const { deliveries, attempts } = await delivered(server, goneId, 1, "Failure");
    assert.equal(deliveries[0]!.attempt_count, 4);
    assert.equal(attempts.length, 1, "only the attempt that got the 410 was made");
    assert.equal(gone.received.length, 1, "only the attempt that got the 410 was sent");
  });

  test("a redirect fails its attempt, is not followed, and the attempt records where it pointed", async (t) => {
    const server = await withServer(t, { retrySchedule: "none" });
    const target = await withReceiver(t);
    const redirecting = await withReceiver(t, (_index, _webhook, response) => response.writeHead(308, { location: `${target.url}?moved=1` }).end());
    const consumerId = await subscribe(server, redirecting.url);
    await server.api("POST", "/companies", { name: "Moved" });
    const { attempts } = await delivered(server, consumerId, 1, "Failure");
    assert.equal(attempts[0]!.status_code, 308);
    assert.equal(attempts[0]!.error, `HTTP 308: redirect to ${target.url}?moved=1 not followed`);
    assert.equal(target.received.length, 0);
  });
});

describe("the circuit breaker", () => {
  const circuitOf = async (server: TestServer, consumerId: string) => (await server.api("GET", `/webhooks/${consumerId}`)).body.circuit;

  test("is off unless the operator turns it on: a consumer that never answers fails every delivery on schedule", async (t) => {
    const server = await withServer(t, { retrySchedule: "50ms,50ms" });
    const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(503).end());
    const consumerId = await subscribe(server, receiver.url);
    for (let index = 0; index < 3; index++) await server.api("POST", "/companies", { name: `Down ${index}` });
    await delivered(server, consumerId, 3, "Failure");
    assert.equal(receiver.received.length, 9, "three attempts for each of the three deliveries");
    assert.deepEqual(await circuitOf(server, consumerId), { state: "closed", consecutiveFailures: 0, nextProbeAt: null });
  });

  test("opens after the failures in a row, holds deliveries without spending attempts, probes once per cool-down, and closes on an answer", async (t) => {
    // Without the breaker this schedule would fail every delivery within a quarter of a second.
    const server = await withServer(t, { retrySchedule: "50ms,50ms,50ms", circuitBreakerFailures: "3", circuitBreakerCooldown: "1s" });
    let down = true;
    const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(down ? 503 : 204).end());
    const consumerId = await subscribe(server, receiver.url);
    for (let index = 0; index < 5; index++) await server.api("POST", "/companies", { name: `Held ${index}` });

    const opened = await until(
      "the circuit to open",
      () => circuitOf(server, consumerId),
      (circuit) => circuit.state === "open",
    );
    assert.ok(opened.consecutiveFailures >= 3, `opened after at least 3 failures in a row: ${opened.consecutiveFailures}`);
    assert.ok(opened.nextProbeAt !== null);
    assert.match(server.logs(), /consumer circuit opened/);
    const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text();
    assert.match(metrics, /^hookline_consumer_circuits_open 1$/m);

    // Two probes fail, one cool-down apart; meanwhile nothing else is sent and no delivery uses up its schedule.
    const sentWhenOpened = receiver.received.length;
    await until(
      "two failed probes",
      async () => receiver.received.length,
      (count) => count >= sentWhenOpened + 2,
    );
    const probes = receiver.received.slice(sentWhenOpened);
    assert.ok(probes[1]!.receivedAt - probes[0]!.receivedAt >= 900, "probes are a cool-down apart");
    assert.match(server.logs(), /consumer circuit stays open: the probe failed/);
    const held = await recorded(server, consumerId);
    assert.equal(held.deliveries.filter((delivery) => delivery.status === "Failure").length, 0, "no delivery failed while held");
    const messages = (await server.api("GET", `/webhooks/${consumerId}/messages`)).body.results;
    assert.ok(
      messages.some((message: any) => message.deliveries[0].status !== "Success" && message.deliveries[0].nextAttemptAt === null),
      "a held delivery shows no next attempt time",
    );

    down = false;
    await delivered(server, consumerId, 5);
    assert.deepEqual(await circuitOf(server, consumerId), { state: "closed", consecutiveFailures: 0, nextProbeAt: null });
    assert.match(server.logs(), /consumer circuit closed/);
    assert.equal(new Set(receiver.received.slice(-5).map((webhook) => webhook.headers["webhook-id"])).size, 5, "each held message went once");
  });

  test("new events for a consumer whose circuit is open fall due when the cool-down ends, and nothing is sent to it meanwhile", async (t) => {
    const server = await withServer(t, { retrySchedule: "50ms,50ms,50ms", circuitBreakerFailures: "2", circuitBreakerCooldown: "1h" });
    const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(503).end());
    const consumerId = await subscribe(server, receiver.url);
    const healthy = await withReceiver(t);
    await subscribe(server, healthy.url);
    await server.api("POST", "/companies", { name: "Opens the circuit" });
    const opened = await until(
      "the circuit to open",
      () => circuitOf(server, consumerId),
      (circuit) => circuit.state === "open",
    );
    const sentWhenOpened = receiver.received.length;
    const companies: string[] = [];
    for (let index = 0; index < 3; index++) companies.push((await server.api("POST", "/companies", { name: `Created while open ${index}` })).body.id);
    // Once a healthy consumer has them, the worker has claimed what was due: had they fallen due now, it would have held them back, parked.
    await healthy.waitFor(4);
    const messages = (await server.api("GET", `/webhooks/${consumerId}/messages`)).body.results;
    for (const companyId of companies) {
      const created = messages.find((message: any) => message.companyId === companyId);
      assert.equal(created.deliveries[0].status, "Sending");
      assert.equal(created.deliveries[0].nextAttemptAt, opened.nextProbeAt, "due when the cool-down ends");
    }
    assert.equal(receiver.received.length, sentWhenOpened, "nothing sent meanwhile");
  });

  test("holds across workers: two worker processes on one database send one probe per cool-down between them", async (t) => {
    const settings = { retrySchedule: "50ms,50ms,50ms,50ms,50ms,50ms", circuitBreakerFailures: "2", circuitBreakerCooldown: "700ms" };
    const server = await startTestServer(settings);
    const secondWorker = await startHookline({ ...testConfig(server.database.url, { ...settings, roles: "worker" }), logLevel: "silent" });
    // The second worker goes first: the database is dropped with the server.
    t.after(async () => {
      await secondWorker.close();
      await server.close();
    });
    const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(503).end());
    const consumerId = await subscribe(server, receiver.url);
    for (let index = 0; index < 20; index++) await server.api("POST", "/companies", { name: `Both workers ${index}` });
    await until(
      "the circuit to open",
      () => circuitOf(server, consumerId),
      (circuit) => circuit.state === "open",
    );
    const sentWhenOpened = receiver.received.length;
    await until(
      "four probes",
      async () => receiver.received.length,
      (count) => count >= sentWhenOpened + 5,
    );
    // Attempts that were in flight as the circuit opened may land just after; from the second request on, each is a probe.
    const probes = receiver.received.slice(sentWhenOpened + 1).map((webhook) => webhook.receivedAt);
    const gaps = probes.slice(1).map((at, index) => at - probes[index]!);
    assert.ok(
      gaps.every((gap) => gap >= 600),
      `one probe per 700 ms cool-down, never one from each worker: gaps ${gaps.join(", ")} ms`,
    );
    const { deliveries } = await recorded(server, consumerId);
    assert.equal(deliveries.filter((delivery) => delivery.status === "Failure").length, 0);
  });

  test("enabling a consumer again closes its circuit and sends what it held", async (t) => {
    const server = await withServer(t, { retrySchedule: "50ms,50ms", circuitBreakerFailures: "2", circuitBreakerCooldown: "1h" });
    let down = true;
    const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(down ? 500 : 204).end());
    const consumerId = await subscribe(server, receiver.url);
    for (let index = 0; index < 3; index++) await server.api("POST", "/companies", { name: `Parked ${index}` });
    await until(
      "the circuit to open",
      () => circuitOf(server, consumerId),
      (circuit) => circuit.state === "open",
    );
    await until(
      "every delivery held",
      () => recorded(server, consumerId),
      ({ deliveries }) =>
        deliveries.length === 3 && deliveries.every((delivery) => delivery.lease_owner === null && delivery.next_attempt_at! > Date.now() + 60_000),
    );
    down = false;
    await server.api("POST", `/webhooks/${consumerId}/disable`);
    const enabled = await server.api("POST", `/webhooks/${consumerId}/enable`);
    assert.deepEqual(enabled.body.circuit, { state: "closed", consecutiveFailures: 0, nextProbeAt: null });
    // An hour's cool-down is not waited for: the held deliveries go at once.
    await delivered(server, consumerId, 3);
  });

  test("enabling a consumer whose circuit held more than one release step's worth sends every held delivery once", { timeout: 180_000 }, async (t) => {
    // An hour's lease runs the stranded-deliveries job only at start: the release in steps alone sends what was held.
    const server = await withServer(t, { retrySchedule: "50ms,50ms", circuitBreakerFailures: "2", circuitBreakerCooldown: "1h", workerLease: "1h" });
    let down = true;
    const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(down ? 500 : 204).end());
    const consumerId = await subscribe(server, receiver.url, { eventTypes: ["read.completed"] });
    const held = RELEASE_STEP + 500;
    const payload = { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] };
    for (let published = 0; published < held; published += 1000) {
      const events = Array.from({ length: Math.min(1000, held - published) }, () => ({ eventType: "read.completed", payload }));
      assert.equal((await server.api("POST", "/events/batch", { events })).status, 201);
    }
    const waiting = await until(
      "every delivery held by the open circuit",
      () => recorded(server, consumerId),
      ({ deliveries }) =>
        deliveries.length === held && deliveries.every((delivery) => delivery.lease_owner === null && delivery.next_attempt_at! > Date.now() + 60_000),
    );
    const parked = waiting.deliveries.filter((delivery) => delivery.parked_reason === "circuit").length;
    assert.ok(parked > RELEASE_STEP, `more than one step parked: ${parked}`);
    const failedBefore = receiver.received.length;

    down = false;
    await server.api("POST", `/webhooks/${consumerId}/disable`);
    assert.equal((await server.api("POST", `/webhooks/${consumerId}/enable`)).status, 200);
    const { attempts } = await delivered(server, consumerId, held);
    const sent = receiver.received.slice(failedBefore).map((webhook) => webhook.headers["webhook-id"]);
    assert.equal(sent.length, held, "one request per held delivery");
    assert.equal(new Set(sent).size, held, "each to a message of its own");
    const successes = attempts.filter((attempt) => attempt.succeeded === 1).map((attempt) => attempt.delivery_id);
    assert.equal(new Set(successes).size, successes.length, "one successful attempt per delivery");
  });

  test("an ordered consumer's circuit holds only its lines' heads, the rest wait in line, and once it closes each company's line goes on in event order", async (t) => {
    const server = await withServer(t, { retrySchedule: "50ms,50ms,50ms,50ms", circuitBreakerFailures: "2", circuitBreakerCooldown: "1h" });
    let down = true;
    const labels = new Map<string, string>();
    const labelOf = (body: string) => labels.get(JSON.parse(body).id as string)!;
    // Nothing is answered before every event is published: the circuit opens on a queue that holds them all.
    let allPublished = () => undefined as void;
    const published = new Promise<void>((resolve) => (allPublished = resolve));
    const receiver = await withReceiver(t, (_index, _webhook, response) => void published.then(() => response.writeHead(down ? 503 : 204).end()));
    const consumerId = await subscribe(server, receiver.url, { eventTypes: ["read.completed"] });
    await server.api("PATCH", `/webhooks/${consumerId}`, { ordering: "fifo-by-company" });
    const acme = (await server.api("POST", "/companies", { name: "Acme" })).body.id;
    const brio = (await server.api("POST", "/companies", { name: "Brio" })).body.id;
    const payload = { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] };
    for (const [label, companyId] of [
      ["acme1", acme],
      ["brio1", brio],
      ["acme2", acme],
      ["brio2", brio],
      ["acme3", acme],
    ]) {
      const event = await server.api("POST", "/events", { eventType: "read.completed", companyId, payload });
      labels.set(event.body.id, label!);
    }
    await until(
      "the later deliveries to wait in line behind the heads sent",
      () => recorded(server, consumerId),
      ({ deliveries }) => deliveries.filter((delivery) => delivery.parked_reason === "line").length === 3,
    );
    allPublished();
    const byLabel = async () => {
      const { deliveries } = await recorded(server, consumerId);
      const messages = await server.hookline.ctx.store.db.selectFrom("messages").select(["id", "body"]).execute();
      const labelOfMessage = new Map(messages.map((message) => [message.id, labelOf(message.body)]));
      return new Map(deliveries.map((delivery) => [labelOfMessage.get(delivery.message_id)!, delivery]));
    };

    const held = await until(
      "the circuit to hold both heads, and the rest to wait in line",
      byLabel,
      (deliveries) =>
        deliveries.size === 5 && [...deliveries.values()].every((delivery) => delivery.lease_owner === null && delivery.next_attempt_at! > Date.now() + 60_000),
    );
    assert.equal((await circuitOf(server, consumerId)).state, "open");
    for (const later of ["acme2", "brio2", "acme3"]) assert.equal(held.get(later)!.parked_reason, "line", `${later} waits for its line's head`);
    for (const head of ["acme1", "brio1"]) assert.notEqual(held.get(head)!.parked_reason, "line", `${head} is its line's head: the circuit holds it`);
    assert.deepEqual(new Set(receiver.received.map((webhook) => labelOf(webhook.body))), new Set(["acme1", "brio1"]), "only the heads were sent");

    // The cool-down is an hour: nothing is in flight, and all that is received from here on is answered 204.
    down = false;
    const before = receiver.received.length;
    await server.api("POST", `/webhooks/${consumerId}/disable`);
    await server.api("POST", `/webhooks/${consumerId}/enable`);
    await delivered(server, consumerId, 5);
    const sent = receiver.received.slice(before).map((webhook) => labelOf(webhook.body));
    assert.deepEqual(
      sent.filter((label) => label.startsWith("acme")),
      ["acme1", "acme2", "acme3"],
    );
    assert.deepEqual(
      sent.filter((label) => label.startsWith("brio")),
      ["brio1", "brio2"],
    );
  });

  test("a consumer's open circuit does not hold another consumer's deliveries", async (t) => {
    const server = await withServer(t, { retrySchedule: "50ms,50ms", circuitBreakerFailures: "2", circuitBreakerCooldown: "1h" });
    const down = await withReceiver(t, (_index, _webhook, response) => response.writeHead(503).end());
    const up = await withReceiver(t);
    const downId = await subscribe(server, down.url);
    const upId = await subscribe(server, up.url);
    await server.api("POST", "/companies", { name: "First" });
    await until(
      "the down consumer's circuit to open",
      () => circuitOf(server, downId),
      (circuit) => circuit.state === "open",
    );
    for (let index = 0; index < 3; index++) await server.api("POST", "/companies", { name: `Later ${index}` });
    await delivered(server, upId, 4);
    assert.equal((await circuitOf(server, upId)).state, "closed");
    const row = await server.hookline.ctx.store.db
      .selectFrom("consumers")
      .select("circuit_open_until")
      .where("id", "=", asId<ConsumerId>(downId))
      .executeTakeFirstOrThrow();
    assert.ok(row.circuit_open_until !== null);
  });
});
