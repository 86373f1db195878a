import assert from "node:assert/strict";
import { test } from "node:test";
import { legacySpellingOf, renderAlerts, ruleId, type AlertSource } from "../../src/domain/events/legacy-rules.ts";
import type { ClientId, CompanyId } from "../../src/ids.ts";

const clientId = "bae71d36-ff47-420a-b4a6-f8c9ddf41140" as ClientId;
const source = (eventType: string, payload: unknown, companyId: string | null = "8a210b68-6988-11ed-a1eb-0242ac120002"): AlertSource => ({
  clientId,
  clientName: "Bank of Dave",
  eventType,
  companyId: companyId as CompanyId | null,
  payload,
});
const all = new Set(["Rate Limit Reached", "Rate Limit Reset", "DataConnectionStatusChanged", "Push Operation Timed Out", "Push Operation Status Changed()"]);

test("rate limit alerts carry the quota and no company", () => {
  const [reached] = renderAlerts(source("client.rateLimit.reached", { dailyQuota: 1000, quotaRemaining: 0, expiryDate: "2023-05-03T00:00:00Z" }, null), all);
  assert.deepEqual(reached, {
    RuleType: "Rate Limit Reached",
    RuleId: ruleId(clientId, "Rate Limit Reached"),
    ClientId: clientId,
    ClientName: "Bank of Dave",
    Message: `The current daily rate limit quota of 1000 requests for ${clientId} has been reached.`,
    Data: { DailyQuota: 1000, ExpiresUtc: "2023-05-03T00:00:00Z" },
  });
  const [reset] = renderAlerts(source("client.rateLimit.reset", { dailyQuota: 1000, quotaRemaining: 990, expiryDate: "2023-05-04T00:00:00Z" }, null), all);
  assert.equal(reset?.RuleType, "Rate Limit Reset");
  assert.deepEqual(reset?.Data, {
    QuotaRemaining: 990,
    ResetReason: "The quota was reset because its window ended.",
    DailyQuota: 1000,
    ExpiresUtc: "2023-05-04T00:00:00Z",
  });
});

test("only the rule types some consumer wants are rendered, and events no rule covered raise none", () => {
  const connection = { connection: { id: "c1", status: "Linked", integrationKey: "sand", platformName: "Sandbox" } };
  assert.deepEqual(renderAlerts(source("connection.connected", connection), new Set(["Rate Limit Reached"])), []);
  assert.deepEqual(renderAlerts(source("connection.failed", connection), all), []);
  assert.deepEqual(renderAlerts(source("company.created", {}), all), []);
  const [reconnected] = renderAlerts(source("connection.reconnected", connection), all);
  assert.equal(reconnected?.Message, "Data connection for Sandbox status changed to Linked");
  assert.equal(reconnected?.Data?.oldStatus, null);
  const writes = renderAlerts(source("bills.write.successful", { id: "p1", status: "Success" }), all);
  assert.deepEqual(
    writes.map((alert) => alert.RuleType),
    ["Push Operation Status Changed()"],
    "a write that did not time out raises no timeout",
  );
});

test("rule ids are stable per client and rule type, and UUID-shaped", () => {
  assert.equal(ruleId(clientId, "Rate Limit Reset"), ruleId(clientId, "Rate Limit Reset"));
  assert.notEqual(ruleId(clientId, "Rate Limit Reset"), ruleId(clientId, "Rate Limit Reached"));
  assert.notEqual(ruleId(clientId, "Rate Limit Reset"), ruleId("another" as ClientId, "Rate Limit Reset"));
  assert.match(ruleId(clientId, "Rate Limit Reset"), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
});

test("a rule type written with another case, spacing or brackets is recognised, and nothing else", () => {
  assert.equal(legacySpellingOf("push operation status changed"), "Push Operation Status Changed()");
  assert.equal(legacySpellingOf("DataSyncCompleted"), "Data sync completed");
  assert.equal(legacySpellingOf("Data sync complete"), undefined);
});
