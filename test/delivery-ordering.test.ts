/** Ordered delivery on request: a `fifo` consumer gets its events one at a time, in the order they happened. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { recorded, subscribe } from "./support/consumers.ts";
import { withReceiver, type Responder } from "./support/receiver.ts";
import { withServer } from "./support/server.ts";
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
