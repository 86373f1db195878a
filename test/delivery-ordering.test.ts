/** Ordered delivery on request: a `fifo` consumer gets its events one at a time, in the order they happened. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startHookline } from "../src/server.ts";
import { recorded, subscribe } from "./support/consumers.ts";
import { withReceiver, type Responder } from "./support/receiver.ts";
import { startTestServer, testConfig, withServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const NAMES = ["First", "Second", "Third", "Fourth", "Fifth", "Sixth"];

/** A receiver that answers after a moment (so that concurrent sends would overlap) and notes whether two requests were ever open at once. */
function lineWatcher(answer: (name: string) => number) {
  const state = { open: 0, mostOpen: 0 };
  const respond: Responder = (_index, webhook, response) => {
    state.open++;
    state.mostOpen = Math.max(state.mostOpen, state.open);
    setTimeout(() => {
      state.open--;
      response.writeHead(answer(JSON.parse(webhook.body).payload.name)).end();
    }, 20);
  };
  return { state, respond };
}

const namesOf = (bodies: Array<{ body: string }>) => bodies.map((webhook) => JSON.parse(webhook.body).payload.name as string);

test("a fifo consumer gets events one at a time in event order, and a failing one holds those behind it until it succeeds", async (t) => {
  const server = await withServer(t, { retrySchedule: "50ms,50ms,50ms" });
  let secondFailures = 2;
  const { state, respond } = lineWatcher((name) => (name === "Second" && secondFailures-- > 0 ? 503 : 204));
  const receiver = await withReceiver(t, respond);
  const consumerId = await subscribe(server, receiver.url);
  assert.equal((await server.api("PATCH", `/webhooks/${consumerId}`, { ordering: "fifo" })).body.ordering, "fifo");
  for (const name of NAMES) await server.api("POST", "/companies", { name });

  await until(
    "every delivery to succeed",
    () => recorded(server, consumerId),
    ({ deliveries }) => deliveries.length === NAMES.length && deliveries.every((delivery) => delivery.status === "Success"),
  );
  assert.deepEqual(namesOf(receiver.received), ["First", "Second", "Second", "Second", "Third", "Fourth", "Fifth", "Sixth"]);
  assert.equal(state.mostOpen, 1, "never two requests to the consumer at once");
});

test("a head that fails for good lets the next one go, and an unordered consumer beside it is not held", async (t) => {
  const server = await withServer(t, { retrySchedule: "50ms,50ms" });
  const ordered = lineWatcher((name) => (name === "Third" ? 500 : 204));
  const fifo = await withReceiver(t, ordered.respond);
  const unordered = lineWatcher(() => 204);
  const free = await withReceiver(t, unordered.respond);
  const fifoId = await subscribe(server, fifo.url);
  await server.api("PATCH", `/webhooks/${fifoId}`, { ordering: "fifo" });
  const freeId = await subscribe(server, free.url);
  for (const name of NAMES) await server.api("POST", "/companies", { name });

  const { deliveries } = await until(
    "every fifo delivery to be final",
    () => recorded(server, fifoId),
    ({ deliveries }) => deliveries.length === NAMES.length && deliveries.every((delivery) => delivery.status === "Success" || delivery.status === "Failure"),
  );
  assert.equal(deliveries.filter((delivery) => delivery.status === "Failure").length, 1);
  assert.deepEqual(namesOf(fifo.received), ["First", "Second", "Third", "Third", "Third", "Fourth", "Fifth", "Sixth"]);
  assert.equal(ordered.state.mostOpen, 1);
  await until(
    "the unordered consumer's deliveries",
    () => recorded(server, freeId),
    ({ deliveries }) => deliveries.length === NAMES.length && deliveries.every((delivery) => delivery.status === "Success"),
  );
  assert.ok(unordered.state.mostOpen > 1, "the unordered consumer's deliveries went concurrently");
});

/** The consumer's messages, oldest first, each with its delivery's state as the API shows it. */
async function statesOf(server: TestServer, consumerId: string) {
  const page = await server.api("GET", `/webhooks/${consumerId}/messages?pageSize=100`);
  assert.equal(page.status, 200, JSON.stringify(page.body));
  const messages = page.body.results as Array<{ id: string; deliveries: unknown[] }>;
  return messages.map((message) => ({ id: message.id, state: message.deliveries[0] })).reverse();
}

/** The deliveries waiting in line, as /metrics counts them. */
const parkedGauge = async (server: TestServer) =>
  Number(/^hookline_deliveries_parked\{reason="line"\} (\S+)$/m.exec(await (await fetch(`${server.baseUrl}/metrics`)).text())![1]);

test("behind a head that keeps failing, the deliveries in line are never claimed, held back or attempted: their state never changes", async (t) => {
  const settings = { retrySchedule: Array.from({ length: 10 }, () => "50ms").join(",") };
  // The API alone first: what the deliveries show before any worker has seen them.
  const server = await startTestServer({ ...settings, roles: "api" });
  const workers: Array<Awaited<ReturnType<typeof startHookline>>> = [];
  // The worker goes first: the database is dropped with the server.
  t.after(async () => {
    for (const worker of workers) await worker.close();
    await server.close();
  });
  const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(503).end());
  const consumerId = await subscribe(server, receiver.url);
  await server.api("PATCH", `/webhooks/${consumerId}`, { ordering: "fifo" });
  for (const name of NAMES.slice(0, 4)) await server.api("POST", "/companies", { name });

  const [head, ...behind] = await statesOf(server, consumerId);
  assert.equal(behind.length, 3);
  assert.ok((head!.state as { nextAttemptAt: string | null }).nextAttemptAt !== null, "the head is due");
  for (const { state } of behind)
    assert.deepEqual(
      { ...(state as object), updatedAt: undefined },
      { webhookId: consumerId, status: "Sending", attemptCount: 0, nextAttemptAt: null, updatedAt: undefined },
      "the others wait in line, with no time set",
    );
  assert.equal(await parkedGauge(server), 3);

  workers.push(await startHookline({ ...testConfig(server.database.url, { ...settings, roles: "worker" }), logLevel: "silent" }));
  await until(
    "four failed attempts of the head",
    () => recorded(server, consumerId),
    ({ attempts }) => attempts.length >= 4,
  );
  const { attempts } = await recorded(server, consumerId);
  assert.ok(
    attempts.every((attempt) => attempt.message_id === head!.id),
    "only the head was attempted",
  );
  assert.ok(namesOf(receiver.received).every((name) => name === "First"));
  assert.deepEqual((await statesOf(server, consumerId)).slice(1), behind, "nothing behind the head changed");
  assert.equal(await parkedGauge(server), 3, "nothing more was held back, nothing let go");
});

test("a resend of a delivery waiting in line keeps it in line: it is not sent beside the failing head", async (t) => {
  const server = await withServer(t, { retrySchedule: Array.from({ length: 10 }, () => "50ms").join(",") });
  const receiver = await withReceiver(t, (_index, webhook, response) =>
    response.writeHead(JSON.parse(webhook.body).payload.name === "First" ? 503 : 204).end(),
  );
  const consumerId = await subscribe(server, receiver.url);
  await server.api("PATCH", `/webhooks/${consumerId}`, { ordering: "fifo" });
  for (const name of NAMES.slice(0, 3)) await server.api("POST", "/companies", { name });
  const [, , third] = await statesOf(server, consumerId);
  const resent = await server.api("POST", `/webhooks/${consumerId}/messages/${third!.id}/resend`);
  assert.ok(resent.status < 300, JSON.stringify(resent.body));
  await until(
    "three more failed attempts of the head",
    () => recorded(server, consumerId),
    ({ attempts }) => attempts.length >= 3,
  );
  assert.ok(
    namesOf(receiver.received).every((name) => name === "First"),
    "only the head was sent",
  );
  const after = await statesOf(server, consumerId);
  assert.equal((after[2]!.state as { nextAttemptAt: string | null }).nextAttemptAt, null, "the resent one waits in line");
});

test("two workers on one database send an ordered consumer's deliveries one at a time and in event order while events keep coming", async (t) => {
  const settings = { retrySchedule: "50ms,50ms,50ms", workerBatchSize: "4" };
  const server = await startTestServer(settings);
  const secondWorker = await startHookline({ ...testConfig(server.database.url, { ...settings, roles: "worker" }), logLevel: "silent" });
  // The second worker goes first: the database is dropped with the server.
  t.after(async () => {
    await secondWorker.close();
    await server.close();
  });
  const names = Array.from({ length: 30 }, (_, index) => `Line ${String(index).padStart(2, "0")}`);
  const failedOnce = new Set<string>();
  // Every fifth fails once: the one behind it must wait for its retry.
  const { state, respond } = lineWatcher((name) => (Number(name.slice(-2)) % 5 === 0 && !failedOnce.has(name) && failedOnce.add(name) ? 503 : 204));
  const receiver = await withReceiver(t, respond);
  const consumerId = await subscribe(server, receiver.url);
  await server.api("PATCH", `/webhooks/${consumerId}`, { ordering: "fifo" });
  for (const name of names) await server.api("POST", "/companies", { name });

  await until(
    "every delivery to succeed",
    () => recorded(server, consumerId),
    ({ deliveries }) => deliveries.length === names.length && deliveries.every((delivery) => delivery.status === "Success"),
  );
  const sent = namesOf(receiver.received);
  assert.deepEqual(
    sent.filter((name, index) => name !== sent[index - 1]),
    names,
    "in event order, each retried before the next went",
  );
  assert.equal(sent.length, names.length + failedOnce.size);
  assert.equal(state.mostOpen, 1, "never two requests to the consumer at once, from either worker");
});

test("turning fifo off sends at once what waited in line", async (t) => {
  const server = await withServer(t, { retrySchedule: "1h" });
  let headDown = true;
  const receiver = await withReceiver(t, (_index, webhook, response) =>
    response.writeHead(headDown && JSON.parse(webhook.body).payload.name === "First" ? 503 : 204).end(),
  );
  const consumerId = await subscribe(server, receiver.url);
  await server.api("PATCH", `/webhooks/${consumerId}`, { ordering: "fifo" });
  for (const name of NAMES.slice(0, 3)) await server.api("POST", "/companies", { name });
  await until(
    "the others to wait behind the failed head",
    () => recorded(server, consumerId),
    ({ deliveries, attempts }) =>
      attempts.length === 1 &&
      deliveries.length === 3 &&
      deliveries.filter((delivery) => delivery.lease_owner === null && delivery.next_attempt_at! > Date.now() + 60_000).length === 3,
  );
  assert.deepEqual(namesOf(receiver.received), ["First"]);
  headDown = false;
  const unordered = await server.api("PATCH", `/webhooks/${consumerId}`, { ordering: "unordered" });
  assert.equal(unordered.body.ordering, "unordered");
  await until(
    "the two that waited",
    async () => namesOf(receiver.received),
    (names) => names.length === 3,
  );
  assert.deepEqual(namesOf(receiver.received).slice(1).sort(), ["Second", "Third"]);
});

test("a fifo-by-company consumer holds only the failing company's later deliveries: other companies, and events without a company, go on, each line in event order", async (t) => {
  const server = await withServer(t, { retrySchedule: Array.from({ length: 20 }, () => "50ms").join(",") });
  const labels = new Map<string, string>();
  let firstOfAcmeDown = true;
  const open = new Map<string, number>();
  const mostOpen = new Map<string, number>();
  const receiver = await withReceiver(t, (_index, webhook, response) => {
    const label = labels.get(JSON.parse(webhook.body).id as string) ?? "?";
    const line = label.slice(0, -1);
    open.set(line, (open.get(line) ?? 0) + 1);
    mostOpen.set(line, Math.max(mostOpen.get(line) ?? 0, open.get(line)!));
    setTimeout(() => {
      open.set(line, open.get(line)! - 1);
      response.writeHead(label === "acme1" && firstOfAcmeDown ? 503 : 204).end();
    }, 20);
  });
  const consumerId = await subscribe(server, receiver.url, { eventTypes: ["read.completed"] });
  const patched = await server.api("PATCH", `/webhooks/${consumerId}`, { ordering: "fifo-by-company" });
  assert.equal(patched.body.ordering, "fifo-by-company");
  const companies = {
    acme: (await server.api("POST", "/companies", { name: "Acme" })).body.id as string,
    brio: (await server.api("POST", "/companies", { name: "Brio" })).body.id as string,
  };
  const payload = { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] };
  for (const label of ["acme1", "brio1", "none1", "acme2", "brio2", "acme3", "none2", "brio3"]) {
    const line = label.slice(0, -1);
    const company = line === "none" ? {} : { companyId: companies[line as keyof typeof companies] };
    const published = await server.api("POST", "/events", { eventType: "read.completed", payload, ...company });
    assert.equal(published.status, 201, JSON.stringify(published.body));
    labels.set(published.body.id as string, label);
  }
  const received = () => receiver.received.map((webhook) => labels.get(JSON.parse(webhook.body).id as string)!);

  await until(
    "the other company's and the companyless deliveries, while Acme's first keeps failing",
    async () => received(),
    (names) => ["brio1", "brio2", "brio3", "none1", "none2"].every((name) => names.includes(name)) && names.filter((name) => name === "acme1").length >= 2,
  );
  assert.ok(!received().includes("acme2") && !received().includes("acme3"), "Acme's later deliveries wait behind its failing first");
  firstOfAcmeDown = false;
  await until(
    "every delivery to succeed",
    () => recorded(server, consumerId),
    ({ deliveries }) => deliveries.length === 8 && deliveries.every((delivery) => delivery.status === "Success"),
  );
  const inLine = (line: string) => received().filter((name) => name.startsWith(line));
  assert.deepEqual([...new Set(inLine("acme"))], ["acme1", "acme2", "acme3"], "Acme's in event order, its first until it succeeded");
  assert.deepEqual(inLine("brio"), ["brio1", "brio2", "brio3"]);
  assert.deepEqual(inLine("none"), ["none1", "none2"], "events without a company wait in a line of their own");
  for (const line of ["acme", "brio", "none"]) assert.equal(mostOpen.get(line), 1, `never two requests of ${line}'s line at once`);
});
