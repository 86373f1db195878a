import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { assertErrorMessage } from "./support/errors.ts";
import { openLinkPage, postLinkForm, pressLinkButton } from "./support/link-page.ts";
import { Receiver } from "./support/receiver.ts";
import { eventSchemaErrors } from "./support/schemas.ts";
import { startTestServer, type TestClient, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const INSIGHT_EVENTS = ["connection.link.reminder", "connection.insight.alert", "connection.insight.resolved"];

let server: TestServer;
let receiver: Receiver;

before(async () => {
  // Time compressed by configuration: a link page opened and left is abandoned at once, and alert rules are evaluated often.
  server = await startTestServer({ linkAbandonAfter: "1ms", insightAlertInterval: "100ms" });
  receiver = await Receiver.start();
  assert.equal((await server.api("POST", "/webhooks", { url: receiver.url, eventTypes: INSIGHT_EVENTS })).status, 201);
});
after(async () => {
  await server.close();
  await receiver.close();
});

interface Connection {
  id: string;
  linkUrl: string;
  status: string;
}

async function newConnection(client: TestClient, region: string): Promise<{ companyId: string; connection: Connection }> {
  const company = (await client.api("POST", "/companies", { name: `Shop in ${region}`, tags: { region } })).body;
  const connection = (await client.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
  return { companyId: company.id, connection };
}

/** The figures once the background recording has caught up with what the test did. */
function insightOnce(path: string, done: (body: any) => boolean, client: TestClient = server) {
  return until(`${path} to show the journeys`, async () => (await client.api("GET", path)).body, done);
}

/** Links a new connection through its hosted link page, as an SMB pressing Authorize. */
async function linkOne(region: string) {
  const { companyId, connection } = await newConnection(server, region);
  assert.equal((await pressLinkButton(connection.linkUrl, "authorize")).status, 200);
  return { companyId, connection };
}

type Journey = { companyId: string; connection: Connection };
const journeys: Record<"linked" | "cancelled" | "refused" | "abandoned" | "unopened", Journey[]> = {
  linked: [],
  cancelled: [],
  refused: [],
  abandoned: [],
  unopened: [],
};

describe("connection insight", () => {
  test("the funnel counts links driven through the sandbox: created, opened, linked, failed, abandoned, with the top errors", async () => {
    for (let index = 0; index < 6; index++) journeys.linked.push(await linkOne(index % 2 === 0 ? "eu" : "us"));
    for (let index = 0; index < 3; index++) {
      const journey = await newConnection(server, "eu");
      assert.equal((await pressLinkButton(journey.connection.linkUrl, "cancel")).status, 200);
      journeys.cancelled.push(journey);
    }
    for (let index = 0; index < 2; index++) {
      const journey = await newConnection(server, "us");
      const path = `/companies/${journey.companyId}/connections/${journey.connection.id}/authorization`;
      assert.equal((await server.api("PUT", path, { username: "sandbox", password: "guess" })).status, 200);
      journeys.refused.push(journey);
    }
    for (let index = 0; index < 2; index++) {
      const journey = await newConnection(server, "us");
      await openLinkPage(journey.connection.linkUrl);
      journeys.abandoned.push(journey);
    }
    journeys.unopened.push(await newConnection(server, "eu"));
    // One SMB starts from the company's page: it chooses the integration there, then authorizes.
    const company = (await server.api("POST", "/companies", { name: "Shop from its page", tags: { region: "eu" } })).body;
    const page = await openLinkPage(`${server.baseUrl}/link/companies/${company.id}`);
    const chosen = await postLinkForm(`${server.baseUrl}/link/companies/${company.id}/connections`, { token: page.token, platformKey: "sand" });
    assert.equal(chosen.status, 303);
    assert.equal((await pressLinkButton(`${server.baseUrl}${chosen.headers.get("location")}`, "authorize")).status, 200);

    const insight = await insightOnce(
      "/insights/connections",
      (body) => body.total.created === 15 && body.total.opened === 12 && body.total.linked === 7 && body.total.abandoned === 2,
    );
    const { total } = insight;
    assert.equal(total.failed, 5, "the cancelled and the refused credentials");
    assert.deepEqual(total.abandonedAt, { opened: 0, chosen: 0, redirected: 2, returned: 0 }, "the abandoned stopped at the consent screen");
    assert.equal(total.conversionRate, 0.4667);
    assert.ok(total.medianTimeToLinkMs !== null && total.medianTimeToLinkMs >= 0);
    assert.ok(total.p90TimeToLinkMs >= total.medianTimeToLinkMs, "p90 is at least the median");
    assert.deepEqual(
      total.topErrors.map(({ statusCode, statusText, count }: any) => ({ statusCode, statusText, count })),
      [
        { statusCode: "403", statusText: "User cancelled linking", count: 3 },
        { statusCode: "401", statusText: "Unauthorized", count: 2 },
      ],
    );
    assert.ok(total.topErrors.every((error: any) => !Number.isNaN(Date.parse(error.lastSeen))));
    assert.deepEqual(insight.groups, [], "no groups without groupBy");
  });

  test("groups the figures by integration, error code, day and company tag", async () => {
    const byTag = (await server.api("GET", "/insights/connections?groupBy=tag:region")).body;
    assert.deepEqual(
      byTag.groups.map(({ key, created, linked, failed, abandoned }: any) => ({ key, created, linked, failed, abandoned })),
      [
        { key: "eu", created: 8, linked: 4, failed: 3, abandoned: 0 },
        { key: "us", created: 7, linked: 3, failed: 2, abandoned: 2 },
      ],
    );
    const byError = (await server.api("GET", "/insights/connections?groupBy=errorCode")).body;
    assert.deepEqual(
      byError.groups.map(({ key, created, topErrors }: any) => ({ key, created, errors: topErrors.length })),
      [
        { key: "401", created: 2, errors: 1 },
        { key: "403", created: 3, errors: 1 },
        { key: null, created: 10, errors: 0 },
      ],
    );
    const byIntegration = (await server.api("GET", "/insights/connections?groupBy=integration")).body;
    assert.deepEqual(
      byIntegration.groups.map(({ key, created }: any) => ({ key, created })),
      [{ key: "sand", created: 15 }],
    );
    const byDay = (await server.api("GET", "/insights/connections?groupBy=day")).body;
    assert.equal(
      byDay.groups.reduce((sum: number, group: any) => sum + group.created, 0),
      15,
    );
    assert.ok(byDay.groups.every((group: any) => /^\d{4}-\d{2}-\d{2}$/.test(group.key)));

    const later = (await server.api("GET", `/insights/connections?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}&until=2999-01-01`))
      .body;
    assert.equal(later.total.created, 0, "connections created before the range are left out");
    assert.equal(later.total.conversionRate, null);
  });

  test("refuses an invalid query in Codat's error shape", async () => {
    for (const [query, pattern] of [
      ["groupBy=company", /groupBy/],
      ["groupBy=tag:", /groupBy/],
      ["since=yesterday", /since/],
      ["since=2024-05-02&until=2024-05-01", /until must be later than since/],
    ] as const) {
      assertErrorMessage(await server.api("GET", `/insights/connections?${query}`), 400, query, pattern);
    }
    assertErrorMessage(await server.api("GET", "/insights/connections/attention?limit=0"), 400, "limit=0");
  });

  test("shows only the client's own connections", async () => {
    const other = await server.addClient("Other client");
    await newConnection(other, "eu");
    const own = await insightOnce("/insights/connections", (body) => body.total.created === 1, other);
    assert.equal(own.total.linked, 0);
    assert.deepEqual((await other.api("GET", "/insights/connections/attention")).body.results, []);
    const { companyId, connection } = journeys.abandoned[0]!;
    assertErrorMessage(await other.api("POST", `/companies/${companyId}/connections/${connection.id}/link-reminder`), 404, "another client's connection");
    assert.equal((await server.api("GET", "/insights/connections")).body.total.created, 15, "the other client's connection is not counted here");
  });

  test("the attention list names the failed and abandoned connections, newest first, with their link URLs and errors in the customer's words", async () => {
    const { results } = (await server.api("GET", "/insights/connections/attention")).body;
    const expected = new Set([...journeys.cancelled, ...journeys.refused, ...journeys.abandoned].map(({ connection }) => connection.id));
    assert.deepEqual(new Set(results.map((item: any) => item.connectionId)), expected, "neither the linked nor the unopened");
    const times = results.map((item: any) => Date.parse(item.since));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      "newest first",
    );
    const cancelled = results.find((item: any) => item.connectionId === journeys.cancelled[0]!.connection.id);
    assert.equal(cancelled.reason, "failed");
    assert.equal(cancelled.linkUrl, journeys.cancelled[0]!.connection.linkUrl);
    assert.deepEqual(cancelled.error, {
      statusCode: "403",
      statusText: "User cancelled linking",
      message: "Linking was cancelled on the consent screen, so nothing was shared.",
    });
    const abandoned = results.find((item: any) => item.connectionId === journeys.abandoned[0]!.connection.id);
    assert.deepEqual([abandoned.reason, abandoned.stoppedAt, abandoned.error, abandoned.companyName], ["abandoned", "redirected", null, "Shop in us"]);
    assert.equal((await server.api("GET", "/insights/connections/attention?limit=2")).body.results.length, 2);
  });

  test("a link reminder gives a fresh link URL, stops the old one, is recorded, and emits an event the client can act on", async () => {
    const { companyId, connection } = journeys.abandoned[0]!;
    const reminder = await server.api("POST", `/companies/${companyId}/connections/${connection.id}/link-reminder`);
    assert.equal(reminder.status, 200);
    assert.notEqual(reminder.body.linkUrl, connection.linkUrl);
    assert.equal(reminder.body.reason, "abandoned");
    assert.equal((await fetch(connection.linkUrl)).status, 410, "the old link URL no longer opens the page");
    assert.equal((await fetch(reminder.body.linkUrl)).status, 200, "the fresh one does");
    assert.equal(
      (await server.api("GET", `/companies/${companyId}/connections/${connection.id}`)).body.linkUrl,
      reminder.body.linkUrl,
      "the connection shows the fresh URL",
    );

    const [webhook] = await until(
      "the reminder event",
      async () => receiver.received.filter((received) => JSON.parse(received.body).eventType === "connection.link.reminder"),
      (found) => found.length === 1,
    );
    assert.deepEqual(eventSchemaErrors(webhook!.body), []);
    assert.deepEqual(JSON.parse(webhook!.body).payload, reminder.body);

    const item = await until(
      "the reminder in the attention list",
      async () => (await server.api("GET", "/insights/connections/attention")).body.results.find((entry: any) => entry.connectionId === connection.id),
      (entry) => entry?.remindedAt !== null,
    );
    assert.equal(item.linkUrl, reminder.body.linkUrl);

    // The SMB follows the reminder and links: the connection leaves the list, and a linked one needs no reminder.
    assert.equal((await pressLinkButton(reminder.body.linkUrl, "authorize")).status, 200);
    await until(
      "the linked connection to leave the attention list",
      async () => (await server.api("GET", "/insights/connections/attention")).body.results.some((entry: any) => entry.connectionId === connection.id),
      (listed) => !listed,
    );
    await insightOnce("/insights/connections", (body) => body.total.linked === 8);
    assertErrorMessage(await server.api("POST", `/companies/${companyId}/connections/${connection.id}/link-reminder`), 400, "a linked connection", /Linked/);
    assertErrorMessage(
      await server.api("POST", `/companies/${companyId}/connections/00000000-0000-4000-8000-000000000000/link-reminder`),
      404,
      "unknown connection",
    );
  });

  test("an alert rule raises connection.insight.alert once when it starts to hold and connection.insight.resolved when it stops", async () => {
    for (const [body, pattern] of [
      [{ name: "both", metric: "failureRate", above: 0.3, below: 0.1, window: "1h" }, /exactly one of above and below/],
      [{ name: "neither", metric: "failures", window: "1h" }, /exactly one of above and below/],
      [{ name: "rate", metric: "failureRate", above: 3, window: "1h" }, /fraction/],
      [{ name: "window", metric: "failures", above: 3, window: "soon" }, /window/],
      [{ name: "metric", metric: "mood", above: 3, window: "1h" }, /metric/],
    ] as const) {
      assertErrorMessage(await server.api("POST", "/insights/alerts", body), 400, body.name, pattern);
    }
    assert.deepEqual((await server.api("GET", "/insights/alerts")).body.results, [], "a refused rule is not kept");

    // 5 failures of 13 attempts in the last hour (8 links): 38%.
    const rule = await server.api("POST", "/insights/alerts", {
      name: "Sandbox failing",
      metric: "failureRate",
      above: 0.3,
      window: "1h",
      minAttempts: 10,
      perIntegration: true,
    });
    assert.equal(rule.status, 201);
    const alertsOf = (eventType: string) =>
      receiver.received
        .map((received) => ({ body: received.body, event: JSON.parse(received.body) }))
        .filter(({ event }) => event.eventType === eventType && event.payload.alertId === rule.body.id);
    const [alert] = await until(
      "the alert",
      async () => alertsOf("connection.insight.alert"),
      (found) => found.length === 1,
    );
    assert.deepEqual(eventSchemaErrors(alert!.body), []);
    assert.equal(alert!.event.payload.integrationKey, "sand");
    assert.deepEqual(alert!.event.payload.figures, { attempts: 13, links: 8, failures: 5, deauthorizations: 0, failureRate: 0.3846 });
    const listed = (await server.api("GET", "/insights/alerts")).body.results;
    assert.deepEqual(
      listed.map((entry: any) => [entry.id, entry.firing.map((firing: any) => firing.integrationKey)]),
      [[rule.body.id, ["sand"]]],
    );

    // Enough successful links bring the rate down to 5 of 17 (29%).
    for (let index = 0; index < 4; index++) await linkOne("eu");
    const [resolved] = await until(
      "the resolution",
      async () => alertsOf("connection.insight.resolved"),
      (found) => found.length === 1,
    );
    assert.deepEqual(eventSchemaErrors(resolved!.body), []);
    assert.equal(resolved!.event.payload.raisedAt, alert!.event.payload.raisedAt, "the resolution names the episode it ends");
    assert.equal(resolved!.event.payload.figures.failureRate, 0.2941);
    assert.equal(alertsOf("connection.insight.alert").length, 1, "the rule held over many evaluations and alerted once");

    const other = await server.addClient("Another client");
    assertErrorMessage(await other.api("DELETE", `/insights/alerts/${rule.body.id}`), 404, "another client's rule");
    assert.equal((await server.api("DELETE", `/insights/alerts/${rule.body.id}`)).status, 204);
    assertErrorMessage(await server.api("DELETE", `/insights/alerts/${rule.body.id}`), 404, "a deleted rule");
  });
});
