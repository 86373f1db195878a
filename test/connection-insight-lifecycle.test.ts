import assert from "node:assert/strict";
import { test } from "node:test";
import { linkStepsWritten } from "../src/domain/link-funnel.ts";
import { purgeExpired } from "../src/domain/retention.ts";
import { asId, type ConnectionId } from "../src/ids.ts";
import { runCli } from "./support/cli.ts";
import { subscribe } from "./support/consumers.ts";
import { openLinkPage, postLinkForm, pressLinkButton } from "./support/link-page.ts";
import { withReceiver } from "./support/receiver.ts";
import { withServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

async function newConnection(server: TestServer, name: string): Promise<{ companyId: string; connectionId: string; linkUrl: string }> {
  const company = (await server.api("POST", "/companies", { name })).body;
  const connection = (await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
  return { companyId: company.id, connectionId: connection.id, linkUrl: connection.linkUrl };
}

/** The steps kept for one connection, by name, once the background recording has caught up. */
async function stepsOf(server: TestServer, connectionId: string): Promise<Record<string, number>> {
  const { store } = server.hookline.ctx;
  await linkStepsWritten(store);
  const rows = await store.db
    .selectFrom("link_steps")
    .select(["step", (eb) => eb.fn.countAll<number | string>().as("count")])
    .where("connection_id", "=", asId<ConnectionId>(connectionId))
    .groupBy("step")
    .execute();
  return Object.fromEntries(rows.map((row) => [row.step, Number(row.count)]));
}

const insight = async (server: TestServer) => (await server.api("GET", "/insights/connections")).body;
const attention = async (server: TestServer) => (await server.api("GET", "/insights/connections/attention")).body.results as any[];

test("a connection deauthorized through the operator API shows in the funnel and the attention list, and its reconnection is counted", async (t) => {
  const server = await withServer(t, { linkAbandonAfter: "1h" });
  const { companyId, connectionId, linkUrl } = await newConnection(server, "Quayside Bakery");
  assert.equal((await pressLinkButton(linkUrl, "authorize")).status, 200);
  const { token } = JSON.parse((await runCli(server.database.url, "operator-tokens", "create", "data engine")).stdout);
  const revoked = await fetch(`${server.baseUrl}/operator/companies/${companyId}/connections/${connectionId}/deauthorize`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ statusCode: "401", statusText: "Revoked", message: "The bank no longer grants access" }),
  });
  assert.equal(revoked.status, 200);
  assert.equal((await revoked.json()).status, "Deauthorized");

  const deauthorized = await until(
    "the deauthorization in the funnel",
    () => insight(server),
    (body) => body.total.deauthorized === 1,
  );
  assert.deepEqual(
    [deauthorized.total.created, deauthorized.total.linked, deauthorized.total.failed, deauthorized.total.reconnected],
    [1, 1, 0, 0],
    "a deauthorized connection was linked, not failed",
  );
  const [item, ...others] = await attention(server);
  assert.deepEqual(others, []);
  assert.deepEqual([item.connectionId, item.reason, item.stoppedAt], [connectionId, "deauthorized", null]);
  assert.deepEqual(
    item.error,
    {
      statusCode: "401",
      statusText: "Revoked",
      message: `${item.platformName} withdrew access to the data, so nothing is shared until the company links again.`,
    },
    "the reason in the SMB's words, with what the integration said",
  );
  assert.equal(item.linkUrl, linkUrl);
  assert.deepEqual(await stepsOf(server, connectionId), { created: 1, opened: 1, redirected: 1, returned: 1, linked: 1, deauthorized: 1 });

  // The SMB opens its link again and authorizes: the connection is reconnected and needs no action any more.
  assert.equal((await pressLinkButton(linkUrl, "authorize")).status, 200);
  const reconnected = await until(
    "the reconnection in the funnel",
    () => insight(server),
    (body) => body.total.reconnected === 1,
  );
  assert.deepEqual([reconnected.total.created, reconnected.total.linked, reconnected.total.deauthorized], [1, 1, 1], "still one connection, linked once");
  assert.deepEqual(await attention(server), []);
  assert.equal((await stepsOf(server, connectionId)).reconnected, 1);
});

test("after a link reminder, a form of the old link page is refused with a page saying so: nothing changes, no event, no step", async (t) => {
  const server = await withServer(t);
  const receiver = await withReceiver(t);
  await subscribe(server, receiver.url, { eventTypes: ["connection.connected", "connection.failed"] });
  const { companyId, connectionId, linkUrl } = await newConnection(server, "Harbour Chandlery");
  // The SMB opens its link page; the client sends a reminder meanwhile; the SMB then presses a button on the page it has open.
  const { token } = await openLinkPage(linkUrl);
  const reminder = (await server.api("POST", `/companies/${companyId}/connections/${connectionId}/link-reminder`)).body;
  const stepsBefore = await stepsOf(server, connectionId);
  for (const button of ["authorize", "cancel"]) {
    const refused = await postLinkForm(linkUrl.replace(/\/start$/, `/${button}`), { token });
    assert.equal(refused.status, 410, button);
    assert.match(refused.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await refused.text(), /This link was replaced by a newer one, so it no longer works\. Open the latest link you were sent\./);
  }
  const old = await fetch(linkUrl);
  assert.equal(old.status, 410, "the old link URL opens no page either");
  assert.match(await old.text(), /replaced by a newer one/);
  // A key that was never given is refused the same way.
  assert.equal((await postLinkForm(`${linkUrl.replace(/\/start$/, "/authorize")}?key=guessed`, { token })).status, 410);

  const connection = (await server.api("GET", `/companies/${companyId}/connections/${connectionId}`)).body;
  assert.equal(connection.status, "PendingAuth");
  assert.deepEqual(connection.dataConnectionErrors ?? [], []);
  assert.deepEqual(await stepsOf(server, connectionId), stepsBefore, "no step recorded");

  // The fresh link works, and its outcome is the only event the client hears.
  assert.equal((await pressLinkButton(reminder.linkUrl, "cancel")).status, 200);
  const [webhook] = await receiver.waitFor(1);
  assert.equal(JSON.parse(webhook!.body).eventType, "connection.failed");
  assert.equal((await pressLinkButton(reminder.linkUrl, "authorize")).status, 200);
  await receiver.waitFor(2);
  assert.deepEqual(
    receiver.received.map((received) => JSON.parse(received.body).eventType),
    ["connection.failed", "connection.connected"],
    "the refused forms emitted nothing",
  );
});

test("reloading a link page without end records its opening once per repeat window", async (t) => {
  const server = await withServer(t);
  const { connectionId, linkUrl } = await newConnection(server, "Toft Stores");
  for (let reload = 0; reload < 25; reload++) assert.equal((await fetch(linkUrl)).status, 200);
  assert.deepEqual(await stepsOf(server, connectionId), { created: 1, opened: 1, redirected: 1 });
  const { total } = await insight(server);
  assert.deepEqual([total.created, total.opened], [1, 1]);
});

test("link steps older than HOOKLINE_LINK_STEP_RETENTION are deleted by the retention job; the journeys' figures stay", async (t) => {
  const server = await withServer(t, { linkStepRetention: "1ms", retentionInterval: "100ms" });
  const { connectionId, linkUrl } = await newConnection(server, "Mill Lane Dairy");
  assert.equal((await pressLinkButton(linkUrl, "authorize")).status, 200);
  await linkStepsWritten(server.hookline.ctx.store);
  await until(
    "the retention job to delete the steps",
    () => stepsOf(server, connectionId),
    (steps) => Object.keys(steps).length === 0,
  );
  const { total } = await insight(server);
  assert.deepEqual([total.created, total.opened, total.linked], [1, 1, 1], "the journey's summary stays");
});

test("the retention keeps link steps younger than it, and none is deleted when it is none", async (t) => {
  const server = await withServer(t);
  const { ctx } = server.hookline;
  const { connectionId } = await newConnection(server, "Saltings Cafe");
  await linkStepsWritten(ctx.store);
  const now = ctx.clock.now();
  assert.equal(ctx.config.insight.stepRetentionMs, 90 * 86_400_000, "90 days by default");
  assert.equal((await purgeExpired(ctx.store, now + 89 * 86_400_000, ctx.config)).linkSteps, 0);
  const never = { ...ctx.config, insight: { ...ctx.config.insight, stepRetentionMs: null } };
  assert.equal((await purgeExpired(ctx.store, now + 1_000 * 86_400_000, never)).linkSteps, 0);
  assert.deepEqual(await stepsOf(server, connectionId), { created: 1 });
  assert.equal((await purgeExpired(ctx.store, now + 91 * 86_400_000, ctx.config)).linkSteps, 1);
  assert.deepEqual(await stepsOf(server, connectionId), {});
});
