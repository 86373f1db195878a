import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { recordEvent } from "../src/domain/events/outbox.ts";
import { createHooklineClient } from "../src/client/index.ts";
import { cli } from "./support/cli.ts";
import { subscribe } from "./support/consumers.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { allPages, createCompany, settledMessages, webhookIdOf } from "./support/messages.ts";
import { Receiver, withReceiver, type ReceivedWebhook, type Responder } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";
import { asId, type ClientId } from "../src/ids.ts";

/** A receiver's answers: 503 until `heal` is called, 200 after. */
function flaky(): { respond: Responder; heal(): void } {
  let healthy = false;
  return { respond: (_index, _webhook, response) => response.writeHead(healthy ? 200 : 503).end(healthy ? "ok" : "unavailable"), heal: () => (healthy = true) };
}

const messageIdsOf = (webhooks: ReceivedWebhook[]) => webhooks.map(webhookIdOf);

/** The message ids a consumer's log shows with `status`. */
async function withStatus(server: TestServer, webhookId: string, status: string): Promise<string[]> {
  return (await allPages(server, `/webhooks/${webhookId}/messages?status=${status}`)).map((message) => message.id);
}

describe("resend", () => {
  let server: TestServer;
  let receiver: Receiver;
  let webhookId: string;
  let messageId: string;
  before(async () => {
    server = await startTestServer({ retrySchedule: "100ms" });
    receiver = await Receiver.start();
    webhookId = await subscribe(server, receiver.url);
    await createCompany(server, "Resent Ltd");
    messageId = webhookIdOf((await receiver.waitFor(1))[0]!);
    await settledMessages(server, webhookId, 1);
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test("sends the same message again, same webhook-id and body bytes, correctly signed, as a new attempt schedule", async () => {
    const resend = await server.api("POST", `/webhooks/${webhookId}/messages/${messageId}/resend`);
    assert.equal(resend.status, 202, JSON.stringify(resend.body));
    assert.deepEqual([resend.body.webhookId, resend.body.status, resend.body.attemptCount], [webhookId, "Sending", 0]);

    const [first, second] = await receiver.waitFor(2);
    assert.equal(webhookIdOf(second!), messageId);
    assert.equal(second!.body, first!.body, "the body is byte for byte the original");
    const secret = (await server.api("GET", `/webhooks/${webhookId}/secret`)).body.key;
    assert.doesNotThrow(() => new Webhook(secret).verify(second!.body, second!.headers as Record<string, string>));

    const [message] = await settledMessages(server, webhookId, 1);
    assert.deepEqual([message.deliveries[0].status, message.deliveries[0].attemptCount], ["Success", 1]);
    const attempts = (await server.api("GET", `/messages/${messageId}/attempts`)).body.results;
    assert.deepEqual(
      attempts.map((attempt: any) => [attempt.schedule, attempt.attemptNumber, attempt.succeeded]),
      [
        [2, 1, true],
        [1, 1, true],
      ],
      "the earlier attempt stays in the log under the first schedule",
    );
  });

  test("sends a message to a consumer that never got it, whatever its filters", async (t) => {
    const other = await withReceiver(t);
    const otherId = await subscribe(server, other.url, { eventTypes: ["connection.failed"] });
    assert.deepEqual((await allPages(server, `/webhooks/${otherId}/messages`)).length, 0);
    assert.equal((await server.api("POST", `/webhooks/${otherId}/messages/${messageId}/resend`)).status, 202);
    const [webhook] = await other.waitFor(1);
    assert.equal(webhookIdOf(webhook!), messageId);
    assert.equal(webhook!.body, receiver.received[0]!.body);
    const [logged] = await settledMessages(server, otherId, 1);
    assert.equal(logged.id, messageId);
    assert.equal(logged.deliveries[0].status, "Success");
  });

  test("restarts a delivery that ended in Failure; the failed attempts stay in the log", async (t) => {
    const { respond, heal } = flaky();
    const receiver = await withReceiver(t, respond);
    const flakyId = await subscribe(server, receiver.url);
    await createCompany(server, "Flaky Ltd");
    const [failed] = await settledMessages(server, flakyId, 1);
    assert.deepEqual([failed.deliveries[0].status, failed.deliveries[0].attemptCount], ["Failure", 2]);
    heal();
    assert.equal((await server.api("POST", `/webhooks/${flakyId}/messages/${failed.id}/resend`)).status, 202);
    await receiver.waitFor(3);
    const [delivered] = await until(
      "the resent delivery to succeed",
      () => allPages(server, `/webhooks/${flakyId}/messages`),
      (messages) => messages[0]?.deliveries[0].status === "Success",
    );
    assert.equal(delivered.deliveries[0].attemptCount, 1, "a fresh schedule");
    const attempts = (await server.api("GET", `/webhooks/${flakyId}/messages/${failed.id}/attempts`)).body.results;
    assert.deepEqual(
      attempts.map((attempt: any) => [attempt.schedule, attempt.attemptNumber, attempt.statusCode]),
      [
        [2, 1, 200],
        [1, 2, 503],
        [1, 1, 503],
      ],
    );
  });

  test("a disabled consumer, an unknown message or consumer are refused and nothing is sent", async (t) => {
    const idle = await withReceiver(t);
    const disabledId = await subscribe(server, idle.url, { disabled: true });
    assertErrorMessage(await server.api("POST", `/webhooks/${disabledId}/messages/${messageId}/resend`), 409, "a disabled consumer", /disabled/);
    const unknown = "00000000-0000-4000-8000-000000000000";
    assert.equal((await server.api("POST", `/webhooks/${webhookId}/messages/${unknown}/resend`)).status, 404);
    assert.equal((await server.api("POST", `/webhooks/${unknown}/messages/${messageId}/resend`)).status, 404);
    assert.deepEqual(await allPages(server, `/webhooks/${disabledId}/messages`), []);
    assert.equal(idle.received.length, 0);
  });
});

describe("recover", () => {
  let server: TestServer;
  let receiver: Receiver;
  const { respond, heal } = flaky();
  let webhookId: string;
  /** The failed messages, oldest first: one before the recovered range, then five in it. */
  let failed: any[];
  before(async () => {
    server = await startTestServer({ retrySchedule: "none", recoveryRate: "5" });
    receiver = await Receiver.start(respond);
    webhookId = await subscribe(server, receiver.url);
    // The first fails before the others are made, so `since` can fall between them.
    await createCompany(server, "Failed before");
    await settledMessages(server, webhookId, 1);
    for (let index = 0; index < 5; index++) await createCompany(server, `Failed ${index}`);
    failed = (await settledMessages(server, webhookId, 6)).reverse();
    assert.ok(failed.every((message) => message.deliveries[0].status === "Failure"));
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test("re-sends every failed message since a time, paced at the recovery rate", async () => {
    heal();
    const inRange = failed.slice(1);
    const requestedAt = Date.now();
    const recovery = await server.api("POST", `/webhooks/${webhookId}/recover`, { since: inRange[0].generatedDate });
    assert.equal(recovery.status, 202, JSON.stringify(recovery.body));
    assert.deepEqual([recovery.body.scheduled, recovery.body.skippedPurged, recovery.body.ratePerSecond], [5, 0, 5]);
    // Five messages at 5 per second: the last is due 4 x 200 ms after the first.
    const spread = Date.parse(recovery.body.lastDueAt) - requestedAt;
    assert.ok(spread >= 800, `the last is due 800 ms after the first (${spread} ms)`);

    const arrivals = (await receiver.waitFor(6 + 5)).slice(6);
    assert.deepEqual(new Set(arrivals.map(webhookIdOf)), new Set(inRange.map((message) => message.id)), "exactly the failed messages in the range");
    assert.ok(arrivals[4]!.receivedAt - requestedAt >= 800, "never faster than 5 per second");
    const recovered = await until(
      "five recovered deliveries",
      () => withStatus(server, webhookId, "Success"),
      (ids) => ids.length === 5,
    );
    assert.deepEqual(new Set(recovered), new Set(inRange.map((message) => message.id)));
    assert.deepEqual(await withStatus(server, webhookId, "Failure"), [failed[0].id], "the message before `since` stays failed");

    const attempts = (await server.api("GET", `/webhooks/${webhookId}/messages/${inRange[0].id}/attempts`)).body.results;
    assert.deepEqual(
      attempts.map((attempt: any) => [attempt.schedule, attempt.attemptNumber, attempt.statusCode]),
      [
        [2, 1, 200],
        [1, 1, 503],
      ],
    );
  });

  test("a second recovery finds nothing more to send", async () => {
    const again = await server.api("POST", `/webhooks/${webhookId}/recover`, { since: failed[1].generatedDate });
    assert.deepEqual([again.status, again.body.scheduled, again.body.lastDueAt], [202, 0, null]);
  });

  test("until bounds the range; the CLI recovers the same way", async () => {
    const output = await cli(
      server,
      "messages",
      "recover",
      "--client",
      server.clientId,
      "--webhook",
      webhookId,
      "--since",
      "2000-01-01",
      "--until",
      failed[1].generatedDate,
    );
    assert.equal(JSON.parse(output).scheduled, 1);
    const [arrival] = (await receiver.waitFor(12)).slice(11);
    assert.equal(webhookIdOf(arrival!), failed[0].id);
    await until(
      "no failure left",
      () => withStatus(server, webhookId, "Failure"),
      (ids) => ids.length === 0,
    );
  });

  test("bad ranges, unknown and disabled consumers are refused", async () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [{}, 400, /since/],
      [{ since: "last week" }, 400, /ISO 8601/],
      [{ since: "2024-05-02", until: "2024-05-01" }, 400, /until must be later/],
      [{ since: 20240501 }, 400, /since/],
    ];
    for (const [body, status, pattern] of cases) {
      assertErrorMessage(await server.api("POST", `/webhooks/${webhookId}/recover`, body), status, JSON.stringify(body), pattern);
    }
    assert.equal((await server.api("POST", "/webhooks/00000000-0000-4000-8000-000000000000/recover", { since: "2024-05-01" })).status, 404);
    assert.equal((await server.api("POST", `/webhooks/${webhookId}/disable`)).status, 200);
    // The consumer is enabled again whatever the outcome: it is shared by the tests of this block.
    try {
      assert.equal((await server.api("POST", `/webhooks/${webhookId}/recover`, { since: "2024-05-01" })).status, 409);
      assert.equal((await server.api("POST", `/webhooks/${webhookId}/replay`, { since: "2024-05-01" })).status, 409);
    } finally {
      assert.equal((await server.api("POST", `/webhooks/${webhookId}/enable`)).status, 200);
    }
  });
});

describe("recovery follows the consumer's rate limit", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ retrySchedule: "none", recoveryRate: "1000" });
  });
  after(() => server.close());

  test("a consumer limited to 2 messages per second gets its recovered messages 500 ms apart", async (t) => {
    const { respond, heal } = flaky();
    const receiver = await withReceiver(t, respond);
    const webhookId = await subscribe(server, receiver.url);
    for (let index = 0; index < 3; index++) await createCompany(server, `Limited ${index}`);
    const oldestFirst = (await settledMessages(server, webhookId, 3)).reverse();
    assert.equal((await server.api("PATCH", `/webhooks/${webhookId}`, { rateLimit: 2 })).status, 200);
    heal();
    const requestedAt = Date.now();
    const recovery = await server.api("POST", `/webhooks/${webhookId}/recover`, { since: "2000-01-01" });
    assert.deepEqual([recovery.status, recovery.body.scheduled, recovery.body.ratePerSecond], [202, 3, 2]);
    assert.ok(Date.parse(recovery.body.lastDueAt) - requestedAt >= 1000);
    const arrivals = (await receiver.waitFor(6)).slice(3);
    assert.ok(arrivals[2]!.receivedAt - requestedAt >= 1000, "three messages at 2 per second take a second");
    // One send slot every 500 ms: each arrives alone, so the order they arrive in is the order they were scheduled in.
    assert.deepEqual(
      arrivals.map(webhookIdOf),
      oldestFirst.map((message) => message.id),
      "recovered oldest first",
    );
  });
});

describe("replay", () => {
  let server: TestServer;
  const companies = { uk: "", us: "", untagged: "" };
  /** The messages made before any consumer existed, by kind. */
  const missed = { ukCreated: "", usCreated: "", untaggedCreated: "", ukConnection: "" };
  before(async () => {
    server = await startTestServer({ recoveryRate: "1000" });
    const events = async () => (await allPages(server, "/messages")).reverse();
    companies.uk = await createCompany(server, "Toft UK", { region: "uk" });
    companies.us = await createCompany(server, "Toft US", { region: "us" });
    companies.untagged = await createCompany(server, "Toft");
    assert.equal((await server.api("POST", `/companies/${companies.uk}/connections`, { platformKey: "sand" })).status, 200);
    const [ukCreated, usCreated, untaggedCreated, ukConnection] = await events();
    Object.assign(missed, { ukCreated: ukCreated.id, usCreated: usCreated.id, untaggedCreated: untaggedCreated.id, ukConnection: ukConnection.id });
  });
  after(() => server.close());

  test("sends a consumer created later what its event types and company tags match, once", async (t) => {
    const receiver = await withReceiver(t);
    const webhookId = await subscribe(server, receiver.url, { companyTags: ["region:uk"] });
    const replay = await server.api("POST", `/webhooks/${webhookId}/replay`, { since: "2000-01-01" });
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    assert.deepEqual([replay.body.scheduled, replay.body.skippedPurged], [1, 0]);
    assert.deepEqual(messageIdsOf(await receiver.waitFor(1)), [missed.ukCreated]);
    const [logged] = await settledMessages(server, webhookId, 1);
    assert.equal(logged.id, missed.ukCreated);

    const again = await server.api("POST", `/webhooks/${webhookId}/replay`, { since: "2000-01-01" });
    assert.equal(again.body.scheduled, 0, "nothing is missed any more");
  });

  test("skips what the consumer already got, and respects until", async (t) => {
    const receiver = await withReceiver(t);
    const webhookId = await subscribe(server, receiver.url, { eventTypes: ["company.created", "connection.created"] });
    await createCompany(server, "Live");
    const [live] = await receiver.waitFor(1);
    const boundary = (await server.api("GET", `/messages/${missed.untaggedCreated}`)).body.generatedDate;
    const before = (await allPages(server, `/messages?until=${encodeURIComponent(boundary)}`)).length;
    const bounded = await server.api("POST", `/webhooks/${webhookId}/replay`, { since: "2000-01-01", until: boundary });
    assert.equal(bounded.body.scheduled, before, "the messages made before until");
    const replay = await server.api("POST", `/webhooks/${webhookId}/replay`, { since: "2000-01-01" });
    assert.equal(replay.body.scheduled, 4 - before, "the rest, but not the live message it already got");
    const ids = messageIdsOf(await receiver.waitFor(5));
    assert.equal(ids.length, 5);
    assert.deepEqual(new Set(ids), new Set([webhookIdOf(live!), missed.ukCreated, missed.usCreated, missed.untaggedCreated, missed.ukConnection]));
  });

  test("sends what a consumer missed while disabled or before it subscribed to an event type", async (t) => {
    const receiver = await withReceiver(t);
    const webhookId = await subscribe(server, receiver.url, { disabled: true });
    const whileDisabled = await createCompany(server, "Made while disabled");
    assert.equal((await server.api("POST", `/webhooks/${webhookId}/enable`)).status, 200);
    assert.equal((await server.api("PATCH", `/webhooks/${webhookId}`, { eventTypes: ["company.created", "connection.created"] })).status, 200);
    // Every company.created and connection.created so far: the four made before any consumer, the one made while
    // disabled, and whatever the tests before this one made (it must pass alone as well as after them).
    const matching = (await allPages(server, "/messages?eventType=company.created&eventType=connection.created")).filter((message) => !message.example);
    assert.ok(matching.length >= 5);
    const replay = await server.api("POST", `/webhooks/${webhookId}/replay`, { since: "2000-01-01" });
    assert.equal(replay.body.scheduled, matching.length, "everything it matches now, none of which it got");
    const events = (await receiver.waitFor(matching.length)).map((webhook) => JSON.parse(webhook.body));
    assert.deepEqual(new Set(events.map((event) => event.id)), new Set(matching.map((message) => message.id)));
    assert.ok(events.some((event) => event.eventType === "company.created" && event.payload.id === whileDisabled));
    assert.ok(
      events.some((event) => event.id === missed.ukConnection),
      "the connection event it subscribed to later",
    );
  });

  test("never replays an example event made for another consumer; the log marks it as an example", async (t) => {
    const receiver = await withReceiver(t);
    const exampleTaker = await subscribe(server, receiver.url, { eventTypes: ["connection.failed"] });
    const example = await server.api("POST", `/webhooks/${exampleTaker}/examples`, { eventType: "company.created" });
    assert.equal(example.status, 202, JSON.stringify(example.body));
    await receiver.waitFor(1);
    const logged = (await server.api("GET", `/messages/${example.body.id}`)).body;
    assert.equal(logged.example, true);
    assert.deepEqual(
      logged.deliveries.map((delivery: any) => delivery.webhookId),
      [exampleTaker],
    );

    const other = await subscribe(server, receiver.url);
    const replay = await server.api("POST", `/webhooks/${other}/replay`, { since: logged.generatedDate });
    assert.deepEqual([replay.status, replay.body.scheduled], [202, 0]);
    assert.deepEqual(await allPages(server, `/webhooks/${other}/messages`), []);
  });

  test("walks a range larger than one chunk and sends every matching message exactly once", async (t) => {
    const total = 1_234;
    const since = new Date().toISOString();
    await server.hookline.ctx.store.transaction(async (uow) => {
      for (let index = 0; index < total; index++) {
        await recordEvent(uow, {
          clientId: asId<ClientId>(server.clientId),
          eventType: "read.completed",
          company: null,
          payload: { index },
          generatedAt: Date.now(),
        });
      }
    });
    const receiver = await withReceiver(t);
    const webhookId = await subscribe(server, receiver.url, { eventTypes: ["read.completed"] });
    const replay = await server.api("POST", `/webhooks/${webhookId}/replay`, { since });
    assert.equal(replay.body.scheduled, total);
    const received = await receiver.waitFor(total, 60_000);
    assert.equal(new Set(received.map(webhookIdOf)).size, total);
    assert.deepEqual(
      received.map((webhook) => JSON.parse(webhook.body).payload.index).sort((a, b) => a - b),
      Array.from({ length: total }, (_, index) => index),
    );
  });
});

/** A listen consumer's stream as `hookline listen` reads it, through the typed client: each delivery it hands out, in turn. */
async function openListenStream(server: TestServer, webhookId: string) {
  const client = createHooklineClient({ baseUrl: server.baseUrl, apiKey: server.apiKey });
  const connection = new AbortController();
  const stream = await client.GET("/webhooks/{webhookId}/stream", { params: { path: { webhookId } }, parseAs: "stream", signal: connection.signal });
  assert.equal(stream.response.status, 200);
  const reader = stream.data!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  return {
    async next(): Promise<{ deliveryId: string; messageId: string }> {
      for (;;) {
        const event = /event: delivery\ndata: (.*)\n\n/.exec(text);
        if (event) {
          text = text.slice(event.index + event[0].length);
          return JSON.parse(event[1]!) as { deliveryId: string; messageId: string };
        }
        text += decoder.decode((await reader.read()).value, { stream: true });
      }
    },
    /** Reports the local receiver's answer, as the CLI does. */
    answer: async (deliveryId: string, statusCode: number) => {
      const reported = await client.POST("/webhooks/{webhookId}/stream/{deliveryId}", {
        params: { path: { webhookId, deliveryId } },
        body: { statusCode, durationMs: 1 },
      });
      assert.equal(reported.response.status, 204);
    },
    close: () => connection.abort(),
  };
}

describe("a listen consumer's redeliveries", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test("resend (API), recover and replay (CLI) go over the consumer's stream like its new deliveries, none by a worker", async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    // Published before the consumer existed: only a replay brings it.
    const before = await server.api("POST", "/events", { eventType: "read.completed", payload: { index: 0 } });
    const listen = await server.api("POST", "/webhooks/listen", { eventTypes: ["read.completed"] });
    const webhookId = listen.body.id as string;
    const stream = await openListenStream(server, webhookId);
    const published = await server.api("POST", "/events", { eventType: "read.completed", payload: { index: 1 } });
    const first = await stream.next();
    assert.equal(first.messageId, published.body.id);
    await stream.answer(first.deliveryId, 500);

    const resend = await server.api("POST", `/webhooks/${webhookId}/messages/${published.body.id}/resend`);
    assert.equal(resend.status, 202, JSON.stringify(resend.body));
    const resent = await stream.next();
    assert.deepEqual([resent.messageId, resent.deliveryId], [published.body.id, first.deliveryId]);
    await stream.answer(resent.deliveryId, 500);

    const recovered = JSON.parse(await cli(server, "messages", "recover", "--webhook", webhookId, "--since", since)) as { scheduled: number };
    assert.equal(recovered.scheduled, 1);
    const again = await stream.next();
    assert.equal(again.messageId, published.body.id);
    await stream.answer(again.deliveryId, 200);

    const replayed = JSON.parse(await cli(server, "messages", "replay", "--webhook", webhookId, "--since", since)) as { scheduled: number };
    assert.equal(replayed.scheduled, 1);
    const missed = await stream.next();
    assert.equal(missed.messageId, before.body.id);
    await stream.answer(missed.deliveryId, 204);
    stream.close();

    // Every attempt is an answer the stream reported: a worker never tried the listen consumer's `listen:` URL.
    const attemptsOf = async (messageId: string) =>
      (await server.api("GET", `/webhooks/${webhookId}/messages/${messageId}/attempts`)).body.results.map((attempt: any) => attempt.statusCode);
    assert.deepEqual((await attemptsOf(published.body.id)).sort(), [200, 500, 500]);
    assert.deepEqual(await attemptsOf(before.body.id), [204]);
    const statuses = (await allPages(server, `/webhooks/${webhookId}/messages`)).map((message) => [message.id, message.deliveries[0].status]);
    assert.deepEqual(Object.fromEntries(statuses), { [published.body.id]: "Success", [before.body.id]: "Success" });
  });
});
