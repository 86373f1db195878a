import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { asId, type ConsumerId } from "../src/ids.ts";
import { recorded, signatureHeadersOf, subscribe } from "./support/consumers.ts";
import { withReceiver } from "./support/receiver.ts";
import { eventSchemaErrors } from "./support/schemas.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const consumerRow = (server: TestServer, id: string) =>
  server.hookline.ctx.store.db.selectFrom("consumers").select(["disabled", "failing_since"]).where("id", "=", asId<ConsumerId>(id)).executeTakeFirstOrThrow();

describe("a consumer disabled in the middle of a retry schedule", () => {
  let server: TestServer;
  before(async () => {
    // The spec's schedule (now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), compressed: the two retries
    // that fall in the disabled period stand for the 30-minute and 2-hour ones.
    server = await startTestServer({ retrySchedule: "50ms,50ms,1s,1s,1s,1s,1s" });
  });
  after(() => server.close());

  test("disabled right after the third attempt and enabled after two more fell due, it gets exactly the last three", async (t) => {
    const receiver = await withReceiver(t, (_index, _webhook, response) => response.writeHead(503).end());
    const id = await subscribe(server, receiver.url);
    await server.api("POST", "/companies", { name: "Always failing" });
    await receiver.waitFor(3);
    assert.equal((await server.api("POST", `/webhooks/${id}/disable`)).body.disabled, true);

    const skipping = await until(
      "the fourth and fifth attempts to fall due",
      () => recorded(server, id),
      ({ deliveries }) => deliveries[0]!.attempt_count === 5,
      10_000,
    );
    assert.equal(receiver.received.length, 3, "nothing was sent while disabled");
    assert.equal(skipping.deliveries[0]!.status, "Attempting", "the schedule goes on");
    assert.equal((await server.api("POST", `/webhooks/${id}/enable`)).body.disabled, false);

    const { deliveries, attempts } = await until(
      "the schedule to end",
      () => recorded(server, id),
      ({ deliveries }) => deliveries[0]!.status === "Failure",
      15_000,
    );
    assert.equal(receiver.received.length, 6, "three more attempts after enabling");
    assert.deepEqual(
      attempts.map((attempt) => attempt.attempt_number),
      [1, 2, 3, 6, 7, 8],
    );
    assert.equal(deliveries[0]!.attempt_count, 8);
    assert.equal(deliveries[0]!.next_attempt_at, null);
  });
});

describe("automatic disabling", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ autoDisableAfter: "1s", retrySchedule: Array(12).fill("200ms").join(",") });
  });
  after(() => server.close());

  test("a consumer whose every attempt failed for the period is disabled, and the client's other consumers hear of it", async (t) => {
    const failing = await withReceiver(t, (_index, _webhook, response) => response.writeHead(500).end());
    const watcher = await withReceiver(t);
    const otherClientsWatcher = await withReceiver(t);
    const failingId = await subscribe(server, failing.url, { eventTypes: ["company.created", "webhook.consumer.disabled"] });
    const watcherId = await subscribe(server, watcher.url, { eventTypes: ["webhook.consumer.disabled"] });
    const other = await server.addClient("Other client");
    await subscribe(other, otherClientsWatcher.url, { eventTypes: ["webhook.consumer.disabled"] });

    const createdAt = Date.now();
    await server.api("POST", "/companies", { name: "Unreachable" });
    const [webhook] = await watcher.waitFor(1);
    const event = JSON.parse(webhook!.body);
    assert.equal(event.eventType, "webhook.consumer.disabled");
    assert.deepEqual(eventSchemaErrors(webhook!.body), [], "matches the catalog's schema");
    assert.equal(event.payload.consumerId, failingId);
    assert.equal(event.payload.url, failing.url);
    assert.match(event.payload.reason, /failed since .* \(1 second\)/);
    const disabledAt = Date.parse(event.payload.disabledAt);
    assert.ok(disabledAt - createdAt >= 1000, "not before the period ran out");
    new Webhook((await server.api("GET", `/webhooks/${watcherId}/secret`)).body.key).verify(webhook!.body, signatureHeadersOf(webhook!));

    assert.equal((await server.api("GET", `/webhooks/${failingId}`)).body.disabled, true);
    const { attempts } = await until(
      "the rest of the schedule to be skipped",
      () => recorded(server, failingId),
      ({ deliveries }) => deliveries[0]?.status === "Failure",
    );
    // How many of the 200 ms retries fit in the 1 s period depends on the machine's speed; that it kept trying, and stopped, does not.
    assert.ok(attempts.length >= 2 && attempts.length < 13, `attempts until disabled, none after: ${attempts.length}`);
    assert.ok(attempts.every((attempt) => attempt.started_at <= disabledAt));
    assert.ok(
      failing.received.every((received) => JSON.parse(received.body).eventType === "company.created"),
      "the disabled consumer is not told about itself",
    );
    assert.equal(otherClientsWatcher.received.length, 0, "nor is another client");

    assert.equal((await server.api("POST", `/webhooks/${failingId}/enable`)).body.disabled, false);
    assert.deepEqual(await consumerRow(server, failingId), { disabled: 0, failing_since: null }, "enabling starts the streak afresh");
  });

  test("a success ends the failure streak, so a consumer that recovers stays enabled", async (t) => {
    const flaky = await withReceiver(t, (index, _webhook, response) => response.writeHead(index < 2 ? 500 : 204).end());
    const id = await subscribe(server, flaky.url);
    await server.api("POST", "/companies", { name: "Flaky" });
    await until(
      "the streak to start",
      () => consumerRow(server, id),
      (row) => row.failing_since !== null,
    );
    await until(
      "a success",
      () => recorded(server, id),
      ({ deliveries }) => deliveries[0]?.status === "Success",
    );
    assert.deepEqual(await consumerRow(server, id), { disabled: 0, failing_since: null });
  });
});
