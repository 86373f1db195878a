import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { SANDBOX_CREDENTIALS } from "../src/integrations/sandbox/sandbox.ts";
import { cli } from "./support/cli.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { allPages, settledMessages } from "./support/messages.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

const LEGACY_TYPES = ["DataConnectionStatusChanged", "Sync Connection Deleted"];
const PROPOSED = ["connection.created", "connection.connected", "connection.disconnected", "connection.reconnected", "connection.deleted"];

let server: TestServer;
let legacyReceiver: Receiver;
let liveReceiver: Receiver;
let testReceiver: Receiver;
let legacyId: string;

before(async () => {
  server = await startTestServer({ retrySchedule: "0s,200ms" });
  legacyReceiver = await Receiver.start();
  liveReceiver = await Receiver.start();
  testReceiver = await Receiver.start();
  const created = await server.api("POST", "/webhooks", { url: legacyReceiver.url, eventTypes: LEGACY_TYPES });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  legacyId = created.body.id;
});
after(async () => {
  await server.close();
  await Promise.all([legacyReceiver, liveReceiver, testReceiver].map((receiver) => receiver.close()));
});

/** A connection's life: created, linked, deleted (two legacy alerts on deletion: DataConnectionStatusChanged and Sync Connection Deleted). */
async function connectionLife(): Promise<void> {
  const company = (await server.api("POST", "/companies", { name: "Toft stores" })).body;
  const connection = (await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
  const path = `/companies/${company.id}/connections/${connection.id}`;
  assert.equal((await server.api("PUT", `${path}/authorization`, SANDBOX_CREDENTIALS)).body.status, "Linked");
  assert.equal((await server.api("DELETE", path)).status, 200);
}

const migrationOf = async () => ((await server.api("GET", "/webhooks/migration")).body.results as any[]).find((candidate) => candidate.webhookId === legacyId);
const report = async (query = "") => {
  const answer = await server.api("GET", `/webhooks/migration/${legacyId}/report${query}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
};
const step = async (name: string, expected = 200) => {
  const answer = await server.api("POST", `/webhooks/migration/${legacyId}/${name}`);
  assert.equal(answer.status, expected, JSON.stringify(answer.body));
  return answer.body;
};
const history = async (webhookId: string) => ((await server.api("GET", `/webhooks/${webhookId}/history`)).body.results as any[]).map((entry) => entry.action);

describe("a legacy consumer migrated expand -> compare -> switch -> contract", () => {
  let replacementId: string;

  test("expand creates the replacement in shadow mode: its deliveries are recorded with no request, never sent to its URL", async () => {
    assert.deepEqual((await migrationOf()).migration, { legacyWebhookId: legacyId, state: "legacy", replacementWebhookId: null, testUrl: null });
    const expanded = await server.api("POST", `/webhooks/migration/${legacyId}/expand`, { url: liveReceiver.url });
    assert.equal(expanded.status, 201, JSON.stringify(expanded.body));
    assert.equal(expanded.body.state, "shadow");
    replacementId = expanded.body.replacementWebhookId;
    const replacement = (await server.api("GET", `/webhooks/${replacementId}`)).body;
    assert.deepEqual(replacement.eventTypes, PROPOSED);
    assert.equal(replacement.url, liveReceiver.url);
    assert.deepEqual(replacement.shadow, { testUrl: null });
    assert.equal(replacement.replacesWebhookId, legacyId);
    assertErrorMessage(await server.api("POST", `/webhooks/migration/${legacyId}/expand`), 409, "", /expanded already/);

    // The replacement deliberately lacks connection.deleted: the report must find it.
    const narrowed = PROPOSED.filter((type) => type !== "connection.deleted");
    assert.equal((await server.api("PATCH", `/webhooks/${replacementId}`, { eventTypes: narrowed })).status, 200);
    await connectionLife();
    await legacyReceiver.waitFor(4);
    const recorded = await settledMessages(server, replacementId, 2);
    for (const message of recorded) {
      assert.equal(message.deliveries[0].status, "Success");
      const [attempt] = (await server.api("GET", `/webhooks/${replacementId}/messages/${message.id}/attempts`)).body.results;
      assert.equal(attempt.statusCode, null);
      assert.match(attempt.error, /^Shadow mode: built and recorded, no request made \(it would have been a POST of \d+ bytes, SHA-256 [0-9a-f]{64}\)$/);
    }
    assert.equal(liveReceiver.received.length, 0, "nothing reached the replacement's URL");
  });

  test("the comparison report pairs each legacy alert with the same change's event, and finds the missing event type as legacy-only", async () => {
    const compared = await report();
    assert.deepEqual(compared.counts, { legacy: 4, new: 2, matched: 2, legacyOnly: 2, newOnly: 0 });
    assert.equal(compared.covered, false);
    assert.deepEqual(compared.legacyOnlyByType, {
      "DataConnectionStatusChanged (from connection.deleted)": 1,
      "Sync Connection Deleted (from connection.deleted)": 1,
    });
    assert.deepEqual(
      compared.examples.matched.map((pair: any) => [pair.legacy.eventType, pair.new.eventType]),
      [
        ["DataConnectionStatusChanged", "connection.created"],
        ["DataConnectionStatusChanged", "connection.connected"],
      ],
    );
    for (const pair of compared.examples.matched) assert.equal(pair.new.messageId, pair.sourceMessageId);
    assert.deepEqual(
      compared.examples.legacyOnly.map((item: any) => item.sourceEventType),
      ["connection.deleted", "connection.deleted"],
    );
    // A window before the replacement existed compares nothing.
    const empty = await report(`?since=2020-01-01&until=2020-01-02`);
    assert.deepEqual(empty.counts, { legacy: 0, new: 0, matched: 0, legacyOnly: 0, newOnly: 0 });
    assertErrorMessage(await server.api("GET", `/webhooks/migration/${legacyId}/report?since=yesterday`), 400, "", /since must be an ISO 8601/);
  });

  test("revert in shadow mode deletes the replacement; expanding again with a test URL sends there, signed, and never to its URL", async () => {
    assert.deepEqual(await step("revert"), { legacyWebhookId: legacyId, state: "legacy", replacementWebhookId: null, testUrl: null });
    assert.equal((await server.api("GET", `/webhooks/${replacementId}`)).status, 404);
    assert.deepEqual(await history(legacyId), ["migration.expanded", "migration.reverted"]);

    const expanded = await server.api("POST", `/webhooks/migration/${legacyId}/expand`, { url: liveReceiver.url, testUrl: testReceiver.url });
    assert.equal(expanded.status, 201, JSON.stringify(expanded.body));
    replacementId = expanded.body.replacementWebhookId;
    assert.equal((await migrationOf()).migration.testUrl, testReceiver.url);
    const secret = (await server.api("GET", `/webhooks/${replacementId}/secret`)).body.key;
    await connectionLife();
    const sent = await testReceiver.waitFor(3);
    // An unordered consumer's deliveries go concurrently: they may arrive in any order.
    assert.deepEqual(
      sent
        .map((webhook) => new Webhook(secret).verify(webhook.body, webhook.headers as Record<string, string>) as any)
        .map((event) => event.eventType)
        .sort(),
      ["connection.connected", "connection.created", "connection.deleted"],
    );
    await settledMessages(server, replacementId, 3);
    assert.equal(liveReceiver.received.length, 0, "nothing reached the replacement's URL");
    const compared = await report();
    assert.deepEqual(compared.counts, { legacy: 4, new: 3, matched: 4, legacyOnly: 0, newOnly: 0 });
    assert.equal(compared.covered, true);
    assertErrorMessage(await server.api("POST", `/webhooks/migration/${legacyId}/contract`), 409, "", /Switch to the replacement before/);
  });

  test("switch makes the replacement live and disables the legacy consumer; revert and switch again (with the CLI); contract deletes it", async () => {
    const switched = JSON.parse(await cli(server, "webhooks", "migration", "switch", legacyId, "--client", server.clientId));
    assert.deepEqual(switched, { legacyWebhookId: legacyId, state: "switched", replacementWebhookId: replacementId, testUrl: null });
    assert.equal((await server.api("GET", `/webhooks/${legacyId}`)).body.disabled, true);
    assert.equal((await server.api("GET", `/webhooks/${replacementId}`)).body.shadow, null);
    assertErrorMessage(await server.api("POST", `/webhooks/migration/${legacyId}/switch`), 409, "", /Switched already/);

    const legacyMessages = (await allPages(server, `/webhooks/${legacyId}/messages`)).length;
    const company = (await server.api("POST", "/companies", { name: "Live stores" })).body;
    await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" });
    const [live] = await liveReceiver.waitFor(1);
    assert.equal((JSON.parse(live!.body) as { eventType: string }).eventType, "connection.created");
    assert.equal((await allPages(server, `/webhooks/${legacyId}/messages`)).length, legacyMessages, "the disabled legacy consumer gets nothing new");

    assert.equal((await step("revert")).state, "shadow");
    assert.equal((await server.api("GET", `/webhooks/${legacyId}`)).body.disabled, false);
    assert.deepEqual((await server.api("GET", `/webhooks/${replacementId}`)).body.shadow, { testUrl: testReceiver.url });
    assert.match(await cli(server, "webhooks", "migration", "list", "--client", server.clientId), new RegExp(`${legacyId}.*shadow.*${replacementId}`));
    // Disabled by hand meanwhile, the legacy consumer switches all the same: there is nothing left to disable.
    assert.equal((await server.api("POST", `/webhooks/${legacyId}/disable`)).status, 200);
    assert.equal((await step("switch")).state, "switched");

    assert.deepEqual(await step("contract"), { deletedWebhookId: legacyId, replacementWebhookId: replacementId });
    assert.equal((await server.api("GET", `/webhooks/${legacyId}`)).status, 404);
    assert.deepEqual(await history(replacementId), [
      "migration.expanded",
      "migration.switched",
      "migration.reverted",
      "migration.switched",
      "migration.contracted",
    ]);
    const contracted = (await server.api("GET", `/webhooks/${replacementId}/history`)).body.results.at(-1);
    assert.deepEqual(contracted.detail, { legacyWebhookId: legacyId, replacementWebhookId: replacementId });
    assert.equal(await migrationOf(), undefined, "no consumer is left on legacy rule types");
    assertErrorMessage(await server.api("POST", `/webhooks/migration/${legacyId}/revert`), 404, "", /not found/);
  });

  test("a consumer on event types only has nothing to migrate; another client's consumer is not found", async () => {
    const modern = await server.api("POST", "/webhooks", { url: liveReceiver.url, eventTypes: ["company.created"] });
    assertErrorMessage(await server.api("POST", `/webhooks/migration/${modern.body.id}/expand`), 400, "", /names no legacy rule types/);
    assertErrorMessage(await server.api("GET", `/webhooks/migration/${modern.body.id}/report`), 400, "", /names no legacy rule types/);
    const other = await server.addClient("Another client");
    assertErrorMessage(await other.api("GET", `/webhooks/${modern.body.id}/history`), 404, "", /not found/);
    assertErrorMessage(await other.api("POST", `/webhooks/migration/${modern.body.id}/switch`), 404, "", /not found/);
  });
});
