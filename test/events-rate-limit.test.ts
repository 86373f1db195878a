import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import type { ConfigOverrides } from "../src/config.ts";
import { startHookline, type Hookline } from "../src/server.ts";
import { jobDueAt } from "../src/storage/job-runs.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { Receiver } from "./support/receiver.ts";
import { eventSchemaErrors } from "./support/schemas.ts";
import { callApi, freePort, startTestServer, testConfig, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";
import { asId, type ClientId } from "../src/ids.ts";

/** A second API process on the test server's database, as a deployment behind a load balancer runs them. */
async function secondApiProcess(server: TestServer, overrides: ConfigOverrides): Promise<{ hookline: Hookline; baseUrl: string }> {
  const config = testConfig(server.database.url, { port: String(await freePort()), roles: "api", ...overrides });
  return { hookline: await startHookline(config, { logDestination: new PassThrough().resume() }), baseUrl: config.publicUrl };
}

async function messagesOfType(server: TestServer, eventType: string) {
  return server.hookline.ctx.store.db
    .selectFrom("messages")
    .select(["id", "body"])
    .where("client_id", "=", asId<ClientId>(server.clientId))
    .where("event_type", "=", eventType)
    .execute();
}

const nextUtcMidnight = (now: number) => Math.floor(now / 86_400_000) * 86_400_000 + 86_400_000;

describe("daily API quota", () => {
  const quota = { dailyQuota: "5" };
  let server: TestServer;
  let other: { hookline: Hookline; baseUrl: string };
  let receiver: Receiver;
  let tagged: Receiver;
  before(async () => {
    server = await startTestServer(quota);
    other = await secondApiProcess(server, quota);
    receiver = await Receiver.start();
    tagged = await Receiver.start();
  });
  after(async () => {
    await other.hookline.close();
    await server.close();
    await receiver.close();
    await tagged.close();
  });

  test("requests beyond the quota are 429s across API processes, and crossing it emits client.rateLimit.reached once", async () => {
    // Two of the five requests of today's quota.
    const consumerId = (await server.api("POST", "/webhooks", { url: receiver.url, eventTypes: ["client.rateLimit.reached"] })).body.id;
    await server.api("POST", "/webhooks", { url: tagged.url, eventTypes: ["client.rateLimit.reached"], companyTags: ["region:us"] });

    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, index) => callApi(index % 2 === 0 ? server.baseUrl : other.baseUrl, server.apiKey, "GET", "/companies")),
    );
    assert.deepEqual(
      answers.map((answer) => answer.status).sort(),
      [200, 200, 200, 429, 429, 429, 429, 429, 429, 429],
      "three more requests pass, on either process",
    );

    const refused = answers.find((answer) => answer.status === 429)!;
    assertErrorMessage(refused, 429, "a request beyond the quota");
    assert.equal(refused.body.canBeRetried, "Yes");
    const retryAfter = Number(refused.headers.get("retry-after"));
    const untilMidnight = (nextUtcMidnight(Date.now()) - Date.now()) / 1000;
    assert.ok(
      Number.isInteger(retryAfter) && Math.abs(retryAfter - untilMidnight) < 5,
      `Retry-After ${retryAfter} is the time until the quota resets at UTC midnight (${untilMidnight})`,
    );

    const [webhook] = await receiver.waitFor(1);
    const event = JSON.parse(webhook!.body);
    assert.equal(event.eventType, "client.rateLimit.reached");
    assert.deepEqual(event.payload, { dailyQuota: 5, quotaRemaining: 0, expiryDate: new Date(nextUtcMidnight(Date.now())).toISOString() });
    assert.deepEqual(eventSchemaErrors(webhook!.body), []);

    const reached = await messagesOfType(server, "client.rateLimit.reached");
    assert.equal(reached.length, 1, "once, though seven requests went beyond the quota");
    const deliveries = await server.hookline.ctx.store.db.selectFrom("deliveries").select("consumer_id").where("message_id", "=", reached[0]!.id).execute();
    assert.deepEqual(deliveries, [{ consumer_id: consumerId }], "an event about no company does not go to a consumer filtering on company tags");
  });

  test("the quota is per client, and requests without a valid key are not counted", async () => {
    const client = await server.addClient("Another client");
    assert.equal((await client.api("GET", "/companies")).status, 200);
    assert.equal((await callApi(server.baseUrl, "not-a-key", "GET", "/companies")).status, 401);
  });
});

describe("quota reset", () => {
  // A two-second quota window stands in for the UTC day.
  const quota = { dailyQuota: "2", quotaWindow: "2s" };
  let server: TestServer;
  let other: { hookline: Hookline; baseUrl: string };
  let receiver: Receiver;
  before(async () => {
    server = await startTestServer(quota);
    other = await secondApiProcess(server, quota);
    receiver = await Receiver.start();
  });
  after(async () => {
    await other.hookline.close();
    await server.close();
    await receiver.close();
  });

  test("when the window ends, client.rateLimit.reset is emitted once and requests pass again", async () => {
    await server.api("POST", "/webhooks", { url: receiver.url, eventTypes: ["client.rateLimit.reached", "client.rateLimit.reset"] });
    let refused = false;
    for (let tries = 0; tries < 50 && !refused; tries++) refused = (await server.api("GET", "/companies")).status === 429;
    assert.ok(refused, "the quota was used up");

    const [reachedHook, resetHook] = await receiver.waitFor(2);
    const reached = JSON.parse(reachedHook!.body);
    const reset = JSON.parse(resetHook!.body);
    assert.equal(reached.eventType, "client.rateLimit.reached");
    assert.equal(reset.eventType, "client.rateLimit.reset");
    assert.deepEqual(eventSchemaErrors(resetHook!.body), []);
    assert.ok(Date.parse(reset.generatedDate) >= Date.parse(reached.payload.expiryDate), "reset once the window has ended");
    assert.equal(reset.payload.dailyQuota, 2);
    assert.equal(reset.payload.quotaRemaining, 2);
    assert.equal(Date.parse(reset.payload.expiryDate), Date.parse(reached.payload.expiryDate) + 2000, "the new window ends one window later");

    assert.equal((await server.api("GET", "/companies")).status, 200, "requests pass again");
    // Both API processes ran the reset at that boundary; once the run of the next boundary has ended too, count. A run
    // that ended leaves the job due at a boundary at most one window away; one in progress holds it for minutes.
    const nextBoundary = Date.parse(reset.payload.expiryDate);
    await until(`the quota reset run of the boundary at ${reset.payload.expiryDate} to end`, async () => {
      const dueAt = await jobDueAt(server.hookline.ctx.store.db, "quota-reset");
      return (
        (dueAt !== undefined && dueAt > nextBoundary && dueAt <= Date.now() + 2000) ||
        `the job is due at ${dueAt === undefined ? "no time" : new Date(dueAt).toISOString()}`
      );
    });
    assert.equal((await messagesOfType(server, "client.rateLimit.reset")).length, 1);
    assert.equal((await messagesOfType(server, "client.rateLimit.reached")).length, 1);
  });
});
