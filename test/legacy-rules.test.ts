import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { SANDBOX_CREDENTIALS } from "../src/integrations/sandbox/sandbox.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { Receiver, type ReceivedWebhook } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const LEGACY_TYPES = [
  "DataConnectionStatusChanged",
  "Sync Connection Deleted",
  "Data sync completed",
  "Dataset data changed",
  "Data Sync Status Changed To Error",
];
const NEW_TYPES = ["connection.created", "connection.connected", "connection.disconnected", "connection.deleted", "read.completed"];
const ALERT_AUTH = "Bearer rule-webhooks-secret";

let server: TestServer;
let legacy: Receiver;
let modern: Receiver;
let legacyConsumer: { id: string; secret: string };
let modernConsumer: { id: string; secret: string };

async function consumer(url: string, eventTypes: string[]) {
  const created = await server.api("POST", "/webhooks", { url, eventTypes });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { id: created.body.id as string, secret: (await server.api("GET", `/webhooks/${created.body.id}/secret`)).body.key as string };
}

before(async () => {
  server = await startTestServer({ retrySchedule: "0s,200ms" });
  legacy = await Receiver.start();
  modern = await Receiver.start();
  const profile = (await server.api("GET", "/profile")).body;
  assert.equal((await server.api("PUT", "/profile", { ...profile, name: "Bank of Dave", alertAuthHeader: ALERT_AUTH })).status, 200);
  legacyConsumer = await consumer(legacy.url, LEGACY_TYPES);
  modernConsumer = await consumer(modern.url, NEW_TYPES);
});
after(async () => {
  await server.close();
  await legacy.close();
  await modern.close();
});
beforeEach(() => {
  legacy.received.length = 0;
  modern.received.length = 0;
});

/** Checks a webhook as its receiver would (Standard Webhooks signature over the raw body) and answers it parsed. */
function verified(webhook: ReceivedWebhook, secret: string) {
  const headers = {
    "webhook-id": String(webhook.headers["webhook-id"]),
    "webhook-timestamp": String(webhook.headers["webhook-timestamp"]),
    "webhook-signature": String(webhook.headers["webhook-signature"]),
  };
  const body = new Webhook(secret).verify(webhook.body, headers) as Record<string, any>;
  assert.throws(() => new Webhook(secret).verify(webhook.body.replace("}", " }"), headers), "a changed body fails verification");
  return { body, id: headers["webhook-id"] };
}

/** The legacy alerts received so far, verified, each checked for the fields every alert has. */
function alerts(count: number) {
  assert.equal(legacy.received.length, count, `exactly ${count} alerts: ${legacy.received.map((webhook) => webhook.body).join("\n")}`);
  return legacy.received.map((webhook) => {
    const { body, id } = verified(webhook, legacyConsumer.secret);
    assert.equal(webhook.headers.authorization, ALERT_AUTH, "the profile's alertAuthHeader is the Authorization header");
    assert.equal(body.AlertId, id, "AlertId is the webhook-id");
    assert.deepEqual(Object.keys(body).slice(0, 5), ["AlertId", "RuleType", "RuleId", "ClientId", "ClientName"]);
    assert.equal(body.ClientId, server.clientId);
    assert.equal(body.ClientName, "Bank of Dave");
    assert.equal(body.id, undefined, "the flat payload, not an event");
    return body;
  });
}

describe("a consumer subscribed to legacy rule types", () => {
  test("gets DataConnectionStatusChanged and Sync Connection Deleted as flat, signed alerts with the Authorization header; a consumer on event types gets events", async () => {
    const company = (await server.api("POST", "/companies", { name: "Toft stores" })).body;
    const connection = (await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
    const path = `/companies/${company.id}/connections/${connection.id}`;
    await legacy.waitFor(1);
    const created = alerts(1)[0]!;
    assert.equal(created.RuleType, "DataConnectionStatusChanged");
    assert.equal(created.CompanyId, company.id);
    assert.equal(created.DataConnectionId, connection.id);
    assert.deepEqual(created.Data, { dataConnectionId: connection.id, newStatus: "PendingAuth", oldStatus: null, platformKey: "sand" });

    assert.equal((await server.api("PUT", `${path}/authorization`, SANDBOX_CREDENTIALS)).body.status, "Linked");
    await legacy.waitFor(2);
    const connected = alerts(2)[1]!;
    assert.equal(connected.Data.oldStatus, "PendingAuth");
    assert.equal(connected.Data.newStatus, "Linked");
    assert.match(connected.Message, /status changed from PendingAuth to Linked$/);
    assert.equal(connected.RuleId, created.RuleId, "one rule id for the client's rule type");

    assert.equal((await server.api("PATCH", path, { status: "Unlinked" })).body.status, "Unlinked");
    await legacy.waitFor(3);
    assert.deepEqual({ ...alerts(3)[2]!.Data }, { dataConnectionId: connection.id, newStatus: "Unlinked", oldStatus: "Linked", platformKey: "sand" });

    assert.equal((await server.api("DELETE", path)).status, 200);
    await legacy.waitFor(5);
    const deletions = alerts(5).slice(3);
    const byRule = Object.fromEntries(deletions.map((alert) => [alert.RuleType, alert]));
    assert.deepEqual(Object.keys(byRule).sort(), ["DataConnectionStatusChanged", "Sync Connection Deleted"]);
    assert.equal(byRule.DataConnectionStatusChanged.Data.newStatus, "Deleted");
    assert.equal(byRule["Sync Connection Deleted"].Message, `Sync connection for company ${company.id} deleted`);
    assert.notEqual(byRule["Sync Connection Deleted"].RuleId, byRule.DataConnectionStatusChanged.RuleId);

    const events = (await modern.waitFor(4)).map((webhook) => {
      assert.equal(webhook.headers.authorization, undefined, "events carry no alert Authorization");
      return verified(webhook, modernConsumer.secret).body;
    });
    assert.deepEqual(
      events.map((event) => event.eventType),
      ["connection.created", "connection.connected", "connection.disconnected", "connection.deleted"],
    );
    assert.equal(modern.received.length, 4, "the consumer on event types gets no alerts");
  });

  test("a read renders one alert per data type: completed, data changed, and a failed sync as an error", async () => {
    const company = (await server.api("POST", "/companies", { name: "Reads" })).body;
    const connectionId = "2e9d2c44-f675-40ba-8049-353bfcb5e171";
    const published = await server.api("POST", "/events", {
      eventType: "read.completed",
      companyId: company.id,
      payload: {
        modifiedFromDate: "2024-05-01T00:00:00Z",
        dataTypes: [
          { connectionId, dataType: "invoices", recordsModified: true, status: "Complete" },
          { connectionId, dataType: "bills", recordsModified: false, status: "Complete" },
          { connectionId, dataType: "payments", recordsModified: false, status: "FetchError" },
        ],
      },
    });
    assert.equal(published.status, 201, JSON.stringify(published.body));
    await legacy.waitFor(4);
    await modern.waitFor(1);
    const received = alerts(4).map((alert) => [alert.RuleType, alert.Data.dataType, alert.DataConnectionId, alert.CompanyId]);
    assert.deepEqual(received.sort(), [
      ["Data Sync Status Changed To Error", "payments", connectionId, company.id],
      ["Data sync completed", "bills", connectionId, company.id],
      ["Data sync completed", "invoices", connectionId, company.id],
      ["Dataset data changed", "invoices", connectionId, company.id],
    ]);
    const error = alerts(4).find((alert) => alert.RuleType === "Data Sync Status Changed To Error")!;
    assert.deepEqual(error.Data, { dataType: "payments", datasetStatus: "FetchError", datasetId: null });
    assert.equal(verified(modern.received[0]!, modernConsumer.secret).body.eventType, "read.completed");
  });

  test("writes raise Push Operation Status Changed() and, timed out, Push Operation Timed Out; a first read New company synchronized", async (t) => {
    const pushes = await Receiver.start();
    t.after(() => pushes.close());
    const { secret } = await consumer(pushes.url, ["Push Operation Status Changed()", "Push Operation Timed Out", "New company synchronized"]);
    const company = (await server.api("POST", "/companies", { name: "Writes" })).body;
    const connectionId = "12571faf-0898-47e7-afdd-0fe9eb0a9bf5";
    const write = { id: "push-1", type: "Create", connectionId, status: "TimedOut", completedOnDate: "2024-05-01T10:00:23Z" };
    assert.equal((await server.api("POST", "/events", { eventType: "bills.write.unsuccessful", companyId: company.id, payload: write })).status, 201);
    const initial = {
      modifiedFromDate: "2024-05-01T00:00:00Z",
      dataTypes: [{ connectionId, dataType: "invoices", recordsModified: true, status: "Complete" }],
    };
    assert.equal((await server.api("POST", "/events", { eventType: "read.completed.initial", companyId: company.id, payload: initial })).status, 201);
    const received = (await pushes.waitFor(3)).map((webhook) => {
      assert.equal(webhook.headers.authorization, ALERT_AUTH);
      return verified(webhook, secret).body;
    });
    const byRule = Object.fromEntries(received.map((alert) => [alert.RuleType, alert]));
    assert.deepEqual(byRule["Push Operation Status Changed()"].Data, { dataType: "bills", status: "TimedOut", pushOperationKey: "push-1" });
    assert.deepEqual(byRule["Push Operation Timed Out"].Data, { dataType: "bills", pushOperationKey: "push-1", pushOperationGuid: "push-1" });
    assert.equal(byRule["Push Operation Timed Out"].DataConnectionId, connectionId);
    assert.equal(byRule["New company synchronized"].Message, `Company ${company.id} synced for the first time`);
    assert.equal(legacy.received.length, 0, "a consumer that names other rule types gets none of these");
  });

  test("a failed alert is retried and logged like any message, under its rule type", async () => {
    legacy.respond = (index, _webhook, response) => response.writeHead(index === 0 ? 503 : 204).end();
    try {
      const company = (await server.api("POST", "/companies", { name: "Retried" })).body;
      await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" });
      await legacy.waitFor(2);
      const [first, second] = alerts(2);
      assert.equal(first!.AlertId, second!.AlertId, "the retry is the same alert");
      const log = await until(
        "the alert logged as delivered",
        async () =>
          ((await server.api("GET", `/webhooks/${legacyConsumer.id}/messages`)).body.results ?? []).find(
            (entry: { id: string }) => entry.id === first!.AlertId,
          ),
        (message) => message?.deliveries?.[0]?.status === "Success",
      );
      assert.equal(log.eventType, "DataConnectionStatusChanged");
      const filtered = (await server.api("GET", `/messages?eventType=${encodeURIComponent("DataConnectionStatusChanged")}`)).body.results;
      assert.ok(
        filtered.some((message: { id: string }) => message.id === first!.AlertId),
        "the log filters alerts by rule type",
      );
      assert.ok(filtered.every((message: { eventType: string }) => message.eventType === "DataConnectionStatusChanged"));
      const attempts = (await server.api("GET", `/messages/${first!.AlertId}/attempts`)).body.results;
      assert.deepEqual(attempts.map((attempt: { statusCode: number }) => attempt.statusCode).sort(), [204, 503]);
    } finally {
      legacy.respond = (_index, _webhook, response) => response.writeHead(204).end();
    }
  });
});

describe("legacy rule types in subscriptions and the catalog", () => {
  test("misspelt legacy names are a 400 that names the spelling and creates nothing", async () => {
    const before = (await server.api("GET", "/webhooks")).body;
    const response = await server.api("POST", "/webhooks", {
      url: legacy.url,
      eventTypes: ["data sync completed", "Push Operation Status Changed", "Data sync complete"],
    });
    assertErrorMessage(response, 400, "misspelt legacy rule types", /"data sync completed" \(the legacy rule type is spelt "Data sync completed"\)/);
    assert.match(response.body.error, /"Push Operation Status Changed" \(the legacy rule type is spelt "Push Operation Status Changed\(\)"\)/);
    assert.match(response.body.error, /"Data sync complete"[,.]/);
    const changed = await server.api("PATCH", `/webhooks/${modernConsumer.id}`, { eventTypes: ["Rate limit reached!"] });
    assert.equal(changed.status, 400);
    assert.deepEqual((await server.api("GET", "/webhooks")).body, before);
  });

  test("the catalog lists each legacy rule type with its replacement and an example alert", async () => {
    const { results } = (await server.api("GET", "/events/catalog")).body;
    const legacyEntries = results.filter((entry: { replacedBy?: string[] }) => entry.replacedBy !== undefined);
    assert.equal(legacyEntries.length, 10);
    const byType = Object.fromEntries(legacyEntries.map((entry: { eventType: string }) => [entry.eventType, entry]));
    assert.deepEqual(byType["Rate Limit Reached"].replacedBy, ["client.rateLimit.reached"]);
    assert.deepEqual(byType["Push Operation Timed Out"].replacedBy, ["{dataType}.write.unsuccessful"]);
    assert.equal(byType["Push Operation Timed Out"].example.RuleType, "Push Operation Timed Out");
    assert.equal(byType["Rate Limit Reset"].example.CompanyId, undefined, "rate limits concern no company");
    for (const entry of legacyEntries) assert.equal(entry.example.RuleType, entry.eventType);
  });
});

describe("GET /webhooks/migration", () => {
  test("lists each consumer on legacy rule types with its replacement event types and the same tags; others are not listed, another client sees none", async (t) => {
    const tagged = await server.api("POST", "/webhooks", {
      url: legacy.url,
      eventTypes: ["Rate Limit Reached", "company.created", "Push Operation Status Changed()", "Push Operation Timed Out"],
      companyTags: ["region:uk"],
    });
    assert.equal(tagged.status, 201);
    t.after(() => server.api("DELETE", `/webhooks/${tagged.body.id}`));
    const { results } = (await server.api("GET", "/webhooks/migration")).body;
    const byId = Object.fromEntries(results.map((entry: { webhookId: string }) => [entry.webhookId, entry]));
    assert.equal(byId[modernConsumer.id], undefined, "a consumer on event types only is not listed");
    assert.deepEqual(byId[legacyConsumer.id], {
      webhookId: legacyConsumer.id,
      url: legacy.url,
      disabled: false,
      legacyEventTypes: LEGACY_TYPES,
      proposedEventTypes: [
        "connection.created",
        "connection.connected",
        "connection.disconnected",
        "connection.reconnected",
        "connection.deleted",
        "read.completed",
      ],
      companyTags: [],
      migration: { legacyWebhookId: legacyConsumer.id, state: "legacy", replacementWebhookId: null, testUrl: null },
    });
    assert.deepEqual(byId[tagged.body.id], {
      webhookId: tagged.body.id,
      url: legacy.url,
      disabled: false,
      legacyEventTypes: ["Rate Limit Reached", "Push Operation Status Changed()", "Push Operation Timed Out"],
      proposedEventTypes: ["client.rateLimit.reached", "company.created", "{dataType}.write.successful", "{dataType}.write.unsuccessful"],
      companyTags: ["region:uk"],
      migration: { legacyWebhookId: tagged.body.id, state: "legacy", replacementWebhookId: null, testUrl: null },
    });
    const proposed = await server.api("POST", "/webhooks", {
      url: legacy.url,
      eventTypes: byId[tagged.body.id].proposedEventTypes,
      companyTags: ["region:uk"],
    });
    assert.equal(proposed.status, 201, "the proposal is a subscription Hookline accepts");
    t.after(() => server.api("DELETE", `/webhooks/${proposed.body.id}`));

    const other = await server.addClient("Another client");
    assert.deepEqual((await other.api("GET", "/webhooks/migration")).body, { results: [] });
  });
});
