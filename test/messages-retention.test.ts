import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../src/config.ts";
import { recordEvents } from "../src/domain/events/outbox.ts";
import { cli } from "./support/cli.ts";
import { subscribe } from "./support/consumers.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { allPages, createCompany, settledMessages, webhookIdOf } from "./support/messages.ts";
import { Receiver, withReceiver } from "./support/receiver.ts";
import { Harness } from "./support/serve-process.ts";
import { startTestServer, withServer, type TestServer } from "./support/server.ts";
import { until, WAIT_MS } from "./support/wait.ts";
import { asId, type ClientId } from "../src/ids.ts";

/** The message as the API shows it, once `done` holds. */
const messageOnce = (server: TestServer, messageId: string, done: (message: any) => boolean, what: string) =>
  until(what, async () => (await server.api("GET", `/messages/${messageId}`)).body, done);
const purged = (message: any) => message.payloadPurgedAt !== null;
/** A receiver that quotes the event it got in its answer, as some do: a copy of the payload in the attempt log. */
const quotingReceiver = () => Receiver.start((_index, webhook, response) => response.writeHead(200).end(`received ${webhook.body}`));
/** The message's attempts, once `done` holds for them. */
const attemptsOnce = (server: TestServer, messageId: string, done: (attempts: any[]) => boolean, what: string) =>
  until(what, async () => (await server.api("GET", `/messages/${messageId}/attempts`)).body.results as any[], done);
/** Publishes a read.completed with an Idempotency-Key, as the operator's scripts do; answers the event. */
const publish = async (server: TestServer, companyId: string, key: string) =>
  JSON.parse(
    await cli(
      server,
      "events",
      "publish",
      "read.completed",
      "--client",
      server.clientId,
      "--company",
      companyId,
      "--payload",
      '{"modifiedFromDate":"2024-05-01T00:00:00Z","dataTypes":[]}',
      "--idempotency-key",
      key,
    ),
  );
/** The idempotency keys the database holds for the server's client. */
const storedKeys = async (server: TestServer) =>
  (await server.hookline.ctx.store.db.selectFrom("idempotency_keys").select("key").where("client_id", "=", asId<ClientId>(server.clientId)).execute()).map(
    (row) => row.key,
  );

describe("payload retention", () => {
  let server: TestServer;
  let healthy: Receiver;
  let failing: Receiver;
  const ids = { healthy: "", failing: "", delivered: "", pending: "", marker: "" };
  before(async () => {
    // A retry an hour away keeps the failing consumer's delivery pending through the test.
    server = await startTestServer({ retrySchedule: "1h", payloadRetention: "200ms", retentionInterval: "100ms" });
    healthy = await Receiver.start();
    let failFirst = true;
    failing = await Receiver.start((_index, _webhook, response) => {
      response.writeHead(failFirst ? 500 : 200).end();
      failFirst = false;
    });
    ids.healthy = await subscribe(server, healthy.url);
    ids.failing = await subscribe(server, failing.url, { eventTypes: ["connection.created"] });
    const company = await createCompany(server, "Retained Ltd");
    assert.equal((await server.api("POST", `/companies/${company}/connections`, { platformKey: "sand" })).status, 200);
    ids.delivered = webhookIdOf((await healthy.waitFor(1))[0]!);
    ids.pending = webhookIdOf((await failing.waitFor(1))[0]!);
    await createCompany(server, "Marker Ltd");
    ids.marker = webhookIdOf((await healthy.waitFor(2))[1]!);
  });
  after(async () => {
    await server.close();
    await healthy.close();
    await failing.close();
  });

  test("purges payloads past the retention period and keeps their metadata in the log", async () => {
    const marker = await messageOnce(server, ids.marker, purged, "the newest message to be purged");
    assert.equal(marker.payload, null);
    const delivered = (await server.api("GET", `/messages/${ids.delivered}`)).body;
    assert.ok(purged(delivered), "older messages were purged too");
    assert.equal(delivered.payload, null);
    assert.equal(delivered.eventType, "company.created");
    assert.deepEqual(
      delivered.deliveries.map((delivery: any) => [delivery.webhookId, delivery.status]),
      [[ids.healthy, "Success"]],
    );

    const listed = await allPages(server, "/messages");
    const inList = listed.find((message) => message.id === ids.delivered);
    assert.equal(inList.payloadPurgedAt, delivered.payloadPurgedAt, "the listing still shows it, marked as purged");
    const attempts = (await server.api("GET", `/messages/${ids.delivered}/attempts`)).body.results;
    assert.equal(attempts.length, 1, "its attempts stay in the log");
    assert.match(server.logs(), /purged expired message payloads/);
  });

  test("a message with a pending delivery keeps its payload, and still goes out whole", async () => {
    // The marker is newer than the pending message, so the run that purged it looked at the pending one too.
    await messageOnce(server, ids.marker, purged, "the marker to be purged");
    const pending = (await server.api("GET", `/messages/${ids.pending}`)).body;
    assert.equal(pending.payloadPurgedAt, null);
    assert.equal(pending.deliveries[0].status, "Attempting");
    assert.equal(pending.payload.id, ids.pending);

    assert.equal((await server.api("POST", `/webhooks/${ids.failing}/messages/${ids.pending}/resend`)).status, 202);
    const [first, second] = await failing.waitFor(2);
    assert.equal(second!.body, first!.body, "the full body, byte for byte");
    // Once its last delivery is final, it goes the way of the others.
    await messageOnce(server, ids.pending, purged, "the delivered message to be purged");
  });

  test("resending a purged message answers 410 and sends nothing", async () => {
    const resend = await server.api("POST", `/webhooks/${ids.healthy}/messages/${ids.delivered}/resend`);
    assertErrorMessage(resend, 410, "resending a purged message", /payload was purged on .* \(payload retention\)/);
    const [message] = (await allPages(server, `/webhooks/${ids.healthy}/messages`)).filter((listed) => listed.id === ids.delivered);
    assert.deepEqual([message.deliveries[0].status, message.deliveries[0].attemptCount], ["Success", 1], "the delivery was not restarted");
    assert.equal(healthy.received.length, 2);
  });
});

describe("recovering and replaying purged messages", () => {
  let server: TestServer;
  let receiver: Receiver;
  let webhookId: string;
  before(async () => {
    server = await startTestServer({ retrySchedule: "none", payloadRetention: "200ms", retentionInterval: "100ms" });
    receiver = await Receiver.start((_index, _webhook, response) => response.writeHead(503).end());
    webhookId = await subscribe(server, receiver.url);
    await createCompany(server, "Gone Ltd");
    const [message] = await settledMessages(server, webhookId, 1);
    await messageOnce(server, message.id, purged, "the failed message to be purged");
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test("recover and replay answer 410 when every message to send was purged", async () => {
    assertErrorMessage(await server.api("POST", `/webhooks/${webhookId}/recover`, { since: "2000-01-01" }), 410, "recover", /purged/);
    const late = await subscribe(server, receiver.url);
    const replay = await server.api("POST", `/webhooks/${late}/replay`, { since: "2000-01-01" });
    assert.equal(replay.status, 410);
    assert.deepEqual(await allPages(server, `/webhooks/${late}/messages`), [], "no delivery was made");
    assert.equal(receiver.received.length, 1, "only the original attempt ever reached the receiver");
  });
});

describe("purging while consumers replay the same messages", () => {
  /** How long payloads are kept. */
  const RETENTION_MS = 3_000;
  const MESSAGES = 200;
  /** The messages expire one after another, this many ms apart, so the purge and the replays meet message by message. */
  const STEP_MS = 20;
  /**
   * Each replay asks for the messages created from this long before the retention cutoff (just expired: purged, or
   * about to be) to this long after it (about to expire while the replay runs, or while its deliveries are pending).
   */
  const BEHIND_MS = 50;
  const AHEAD_MS = 250;
  /** The consumers that replay, three at a time in turn; each replays again only once the cutoff has moved past its last window. */
  const CONSUMERS = 30;

  test("each message is either replayed with its whole body or purged and skipped: never sent empty, never reported but not sent, never left unpurged", async (t) => {
    // Registered first, so stopped first: the worker process goes before its database is dropped.
    const harness = new Harness(t);
    // The API in this process and the worker (deliveries and the retention job) in a process of its own, as deployed
    // to scale out: a purge may then commit at any moment of a replay, not only between two of one process's transactions.
    // The recovery rate is far above what a replay schedules, so everything a replay schedules is due at once.
    const server = await withServer(t, { roles: "api", payloadRetention: `${RETENTION_MS}ms`, recoveryRate: "100000" });
    await harness.serve(server.database.url, {
      roles: "worker",
      env: { HOOKLINE_PAYLOAD_RETENTION: `${RETENTION_MS}ms`, HOOKLINE_RETENTION_INTERVAL: "1ms", HOOKLINE_WORKER_IDLE_POLL: "10ms" },
    });
    const receiver = await withReceiver(t);
    // The worker process may still be starting: a first delivery proves it runs.
    await subscribe(server, `${receiver.url}/ready`);
    await createCompany(server, "Ready Ltd");
    await receiver.waitFor(1, WAIT_MS);

    // Recorded before any consumer of them exists, so no delivery holds them: each is purged once it expires, unless a
    // replay holds it. The first expires two seconds from now, time enough to subscribe the consumers; the last four seconds later.
    const firstExpiry = Date.now() + 2_000;
    const recorded = await server.hookline.ctx.store.transaction((uow) =>
      recordEvents(
        uow,
        Array.from({ length: MESSAGES }, (_, index) => ({
          clientId: asId<ClientId>(server.clientId),
          eventType: "read.completed",
          company: null,
          payload: { index },
          generatedAt: firstExpiry - RETENTION_MS + index * STEP_MS,
        })),
      ),
    );
    const bodies = new Map(recorded.map((event) => [event.id as string, event.body]));

    const consumers: Array<{ webhookId: string; path: string; scheduled: number }> = [];
    for (let index = 0; index < CONSUMERS; index++) {
      const webhookId = await subscribe(server, `${receiver.url}/${index}`, { eventTypes: ["read.completed"] });
      consumers.push({ webhookId, path: `/hooks/${index}`, scheduled: 0 });
    }

    // The consumers replay the messages at the cutoff, three at a time, again and again, while the retention job purges them.
    const replays: Array<{ path: string; scheduled: number; skippedPurged: number }> = [];
    const replayAtCutoff = async (consumer: (typeof consumers)[number]) => {
      const cutoff = Date.now() - RETENTION_MS;
      const range = { since: new Date(cutoff - BEHIND_MS).toISOString(), until: new Date(cutoff + AHEAD_MS).toISOString() };
      const response = await server.api("POST", `/webhooks/${consumer.webhookId}/replay`, range);
      if (response.status === 410) {
        assertErrorMessage(response, 410, "a replay of purged messages only", /purged/);
        replays.push({ path: consumer.path, scheduled: 0, skippedPurged: Number(/all (\d+) messages/.exec(response.body.error)?.[1]) });
      } else {
        assert.equal(response.status, 202, JSON.stringify(response.body));
        replays.push({ path: consumer.path, scheduled: response.body.scheduled, skippedPurged: response.body.skippedPurged });
        consumer.scheduled += response.body.scheduled;
      }
    };
    const stillHeld = async () => (await allPages(server, "/messages?eventType=read.completed")).filter((message) => message.payloadPurgedAt === null).length;
    await until("the retention job to purge every message while consumers replay them", async () => {
      const turn = replays.length;
      await Promise.all([0, 1, 2].map((offset) => replayAtCutoff(consumers[(turn + offset) % CONSUMERS]!)));
      const held = await stillHeld();
      return held === 0 || `${held} of ${MESSAGES} messages still hold their payload after ${replays.length} replays`;
    });
    t.diagnostic(`replays (scheduled, skipped as purged): ${JSON.stringify(replays.map((replay) => [replay.scheduled, replay.skippedPurged]))}`);
    assert.ok(
      replays.some((replay) => replay.scheduled > 0 && replay.skippedPurged > 0),
      `some replay met the purge: it skipped messages just purged and scheduled others (${JSON.stringify(replays)})`,
    );

    // What the replays reported is what each consumer got, every message with the body it was published with.
    for (const consumer of consumers) {
      const logged = await settledMessages(server, consumer.webhookId, consumer.scheduled);
      assert.deepEqual(
        logged.filter((message) => message.deliveries[0].status !== "Success"),
        [],
        `every message replayed to ${consumer.path} was delivered`,
      );
    }
    const replayed = receiver.received.filter((webhook) => webhook.path !== "/hooks/ready");
    const notAsPublished = replayed.filter((webhook) => webhook.body !== bodies.get(webhookIdOf(webhook)));
    assert.deepEqual(
      notAsPublished.map((webhook) => ({ path: webhook.path, messageId: webhookIdOf(webhook), body: webhook.body })),
      [],
      "every replayed message carried its whole body, byte for byte",
    );
    const sent = replays.reduce((total, replay) => total + replay.scheduled, 0);
    assert.equal(replayed.length, sent, "the receiver got exactly the messages the replays reported scheduled");
    for (const consumer of consumers) {
      assert.equal(replayed.filter((webhook) => webhook.path === consumer.path).length, consumer.scheduled, `what the replays to ${consumer.path} reported`);
    }
  });
});

describe("copies of payloads expire with them", () => {
  let server: TestServer;
  let receiver: Receiver;
  before(async () => {
    // The idempotency key TTL stays at its 24 h default: the payload retention bounds it.
    server = await startTestServer({ retrySchedule: "none", payloadRetention: "300ms", retentionInterval: "100ms" });
    receiver = await quotingReceiver();
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test("an attempt's response excerpt is emptied once older than the payload retention; its outcome stays in the log", async () => {
    await subscribe(server, receiver.url);
    await createCompany(server, "Quoted Ltd");
    const messageId = webhookIdOf((await receiver.waitFor(1))[0]!);
    await messageOnce(server, messageId, purged, "the message's payload to be purged");
    const [attempt] = await attemptsOnce(
      server,
      messageId,
      (attempts) => attempts.length === 1 && attempts[0].responseExcerpt === null,
      "the attempt's response excerpt to be emptied",
    );
    assert.deepEqual([attempt.statusCode, attempt.succeeded, attempt.error], [200, true, null]);
  });

  test("an idempotency key, which keeps the published events, goes with the payloads though its TTL is longer, without another request from its client", async () => {
    const companyId = await createCompany(server, "Keyed Ltd");
    const first = await publish(server, companyId, "sync-1");
    await until(
      "the idempotency key to be deleted",
      () => storedKeys(server),
      (keys) => keys.length === 0,
    );
    const again = await publish(server, companyId, "sync-1");
    assert.notEqual(again.id, first.id, "the key was forgotten: the same request publishes anew");
  });
});

describe("with payload retention off", () => {
  let server: TestServer;
  let receiver: Receiver;
  before(async () => {
    server = await startTestServer({
      retrySchedule: "none",
      payloadRetention: "none",
      messageRetention: "none",
      idempotencyKeyTtl: "300ms",
      retentionInterval: "100ms",
    });
    receiver = await quotingReceiver();
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test("idempotency keys still go once their TTL ends, while payloads and response excerpts are kept", async () => {
    await subscribe(server, receiver.url);
    const companyId = await createCompany(server, "Kept Ltd");
    const messageId = webhookIdOf((await receiver.waitFor(1))[0]!);
    await attemptsOnce(server, messageId, (attempts) => attempts.length === 1, "the attempt to be recorded");
    await publish(server, companyId, "marker");
    // The run that deleted the key came after the attempt was recorded, so it looked at its excerpt too.
    await until(
      "the idempotency key to be deleted",
      () => storedKeys(server),
      (keys) => keys.length === 0,
    );
    const [attempt] = (await server.api("GET", `/messages/${messageId}/attempts`)).body.results;
    assert.match(attempt.responseExcerpt, /^received \{/);
    const message = (await server.api("GET", `/messages/${messageId}`)).body;
    assert.deepEqual([message.payloadPurgedAt, message.payload.id], [null, messageId]);
  });
});

describe("retention settings", () => {
  test("payloads are kept 30 days by default (as long as their messages), forever with none; recovery runs at 10 per second by default", () => {
    const defaults = loadConfig({});
    assert.equal(defaults.messages.payloadRetentionMs, 30 * 86_400_000);
    assert.equal(defaults.messages.recoveryRatePerSecond, 10);
    assert.equal(loadConfig({ HOOKLINE_PAYLOAD_RETENTION: "none", HOOKLINE_MESSAGE_RETENTION: "none" }).messages.payloadRetentionMs, null);
    assert.equal(loadConfig({ HOOKLINE_PAYLOAD_RETENTION: "30d", HOOKLINE_RETENTION_INTERVAL: "10m" }).messages.retentionIntervalMs, 600_000);
    assert.throws(() => loadConfig({ HOOKLINE_RECOVERY_RATE: "0" }), /HOOKLINE_RECOVERY_RATE/);
    assert.throws(() => loadConfig({ HOOKLINE_PAYLOAD_RETENTION: "three months" }), /Invalid duration/);
  });

  test("idempotency keys are kept 24 hours by default, never longer than payloads", () => {
    assert.equal(loadConfig({}).idempotencyKeyTtlMs, 86_400_000);
    assert.equal(loadConfig({ HOOKLINE_PAYLOAD_RETENTION: "1h" }).idempotencyKeyTtlMs, 3_600_000);
    assert.equal(
      loadConfig({ HOOKLINE_PAYLOAD_RETENTION: "none", HOOKLINE_MESSAGE_RETENTION: "none", HOOKLINE_IDEMPOTENCY_KEY_TTL: "7d" }).idempotencyKeyTtlMs,
      7 * 86_400_000,
    );
  });
});
