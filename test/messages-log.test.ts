import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { cli, runCli } from "./support/cli.ts";
import { subscribe } from "./support/consumers.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { allPages, createCompany, settledMessages } from "./support/messages.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, type TestClient, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

let server: TestServer;
let ok: Receiver;
let failing: Receiver;
/** Consumers: `ok` takes company and connection creations and answers 204; `failing` takes company creations and answers 500. */
const ids = { ok: "", failing: "", alpha: "", beta: "", alphaCreated: "", betaCreated: "", connectionCreated: "" };

const idsOf = (messages: any[]) => messages.map((message) => message.id);

before(async () => {
  server = await startTestServer({ retrySchedule: "100ms,100ms" });
  ok = await Receiver.start();
  failing = await Receiver.start((_index, _webhook, response) => response.writeHead(500, { "content-type": "text/plain" }).end("down for maintenance"));
  ids.ok = await subscribe(server, ok.url, { eventTypes: ["company.created", "connection.created"] });
  ids.failing = await subscribe(server, failing.url);

  ids.alpha = await createCompany(server, "Alpha", { region: "uk" });
  ids.beta = await createCompany(server, "Beta");
  const connection = await server.api("POST", `/companies/${ids.alpha}/connections`, { platformKey: "sand" });
  assert.equal(connection.status, 200);

  await settledMessages(server, ids.ok, 3);
  await settledMessages(server, ids.failing, 2);
  const events = ok.events();
  ids.alphaCreated = events.find((event) => event.eventType === "company.created" && event.payload.id === ids.alpha)!.id;
  ids.betaCreated = events.find((event) => event.eventType === "company.created" && event.payload.id === ids.beta)!.id;
  ids.connectionCreated = events.find((event) => event.eventType === "connection.created")!.id;
});

after(async () => {
  await server.close();
  await ok.close();
  await failing.close();
});

describe("the message log", () => {
  test("lists every message newest first, each with its status at every consumer it was sent to", async () => {
    const listing = await server.api("GET", "/messages");
    assert.equal(listing.status, 200);
    assert.equal(listing.body.hasMore, false);
    assert.equal(listing.body.nextCursor, null);
    const messages = listing.body.results;
    assert.deepEqual(new Set(idsOf(messages)), new Set([ids.alphaCreated, ids.betaCreated, ids.connectionCreated]));
    const times = messages.map((message: any) => Date.parse(message.generatedDate));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      "newest first",
    );

    const alpha = messages.find((message: any) => message.id === ids.alphaCreated);
    assert.equal(alpha.eventType, "company.created");
    assert.equal(alpha.companyId, ids.alpha);
    assert.equal(alpha.payloadPurgedAt, null);
    assert.equal(alpha.example, false);
    assert.deepEqual(
      alpha.deliveries.map((delivery: any) => [delivery.webhookId, delivery.status, delivery.attemptCount, delivery.nextAttemptAt]).sort(),
      [
        [ids.ok, "Success", 1, null],
        [ids.failing, "Failure", 3, null],
      ].sort(),
    );
    const connection = messages.find((message: any) => message.id === ids.connectionCreated);
    assert.deepEqual(
      connection.deliveries.map((delivery: any) => [delivery.webhookId, delivery.status]),
      [[ids.ok, "Success"]],
    );
  });

  test("a consumer's log holds only the messages sent to it, with its own status", async () => {
    const failed = await allPages(server, `/webhooks/${ids.failing}/messages`);
    assert.deepEqual(new Set(idsOf(failed)), new Set([ids.alphaCreated, ids.betaCreated]));
    for (const message of failed)
      assert.deepEqual(
        message.deliveries.map((delivery: any) => [delivery.webhookId, delivery.status]),
        [[ids.failing, "Failure"]],
      );
    const delivered = await allPages(server, `/webhooks/${ids.ok}/messages`);
    assert.equal(delivered.length, 3);
    assert.ok(delivered.every((message) => message.deliveries.length === 1 && message.deliveries[0].status === "Success"));
  });

  test("filters by event type, company, delivery status and date range", async () => {
    const ids_ = async (query: string, path = "/messages") => new Set(idsOf(await allPages(server, `${path}?${query}`)));
    assert.deepEqual(await ids_("eventType=connection.created"), new Set([ids.connectionCreated]));
    assert.deepEqual(await ids_("eventType=connection.created&eventType=company.created"), new Set([ids.alphaCreated, ids.betaCreated, ids.connectionCreated]));
    assert.deepEqual(await ids_(`companyId=${ids.alpha}`), new Set([ids.alphaCreated, ids.connectionCreated]));
    assert.deepEqual(await ids_("status=Failure"), new Set([ids.alphaCreated, ids.betaCreated]), "across consumers: failed at any consumer");
    assert.deepEqual(await ids_("status=Success"), new Set([ids.alphaCreated, ids.betaCreated, ids.connectionCreated]));
    assert.deepEqual(await ids_("status=Attempting"), new Set());
    assert.deepEqual(await ids_("status=Failure", `/webhooks/${ids.ok}/messages`), new Set(), "per consumer: its own status");
    assert.deepEqual(await ids_("status=Failure&eventType=company.created", `/webhooks/${ids.failing}/messages`), new Set([ids.alphaCreated, ids.betaCreated]));

    const all = await allPages(server, "/messages");
    const beta = all.find((message) => message.id === ids.betaCreated);
    const connection = all.find((message) => message.id === ids.connectionCreated);
    const within = (since: number, until?: number) =>
      new Set(
        all
          .filter((message) => Date.parse(message.generatedDate) >= since && (until === undefined || Date.parse(message.generatedDate) < until))
          .map((message) => message.id),
      );
    const since = Date.parse(beta.generatedDate);
    const until_ = Date.parse(connection.generatedDate);
    assert.deepEqual(await ids_(`since=${encodeURIComponent(beta.generatedDate)}`), within(since));
    assert.ok((await ids_(`since=${encodeURIComponent(beta.generatedDate)}`)).has(ids.betaCreated), "since is inclusive");
    const bounded = await ids_(`since=${encodeURIComponent(beta.generatedDate)}&until=${encodeURIComponent(connection.generatedDate)}`);
    if (since < until_) {
      assert.deepEqual(bounded, within(since, until_));
      assert.ok(!bounded.has(ids.connectionCreated), "until is exclusive");
    }
    assert.deepEqual(await ids_("since=2000-01-01&until=2000-01-02"), new Set());
  });

  test("the cursor walks every message exactly once, even while new ones arrive", async () => {
    const all = idsOf(await allPages(server, "/messages"));
    const walked = idsOf(await allPages(server, "/messages", 1));
    assert.deepEqual(walked, all);

    const first = await server.api("GET", "/messages?limit=2");
    assert.equal(first.body.results.length, 2);
    assert.equal(first.body.hasMore, true);
    assert.equal(typeof first.body.nextCursor, "string");
    const newest = await createCompany(server, "Arrived while paging");
    const rest = await allPages(server, "/messages", 250, first.body.nextCursor);
    assert.deepEqual([...idsOf(first.body.results), ...idsOf(rest)], all, "no message repeated, none skipped, the new one not mixed in");
    const fresh = await server.api("GET", "/messages?limit=1");
    assert.equal(fresh.body.results[0].companyId, newest, "the new message heads a fresh listing");
    await settledMessages(server, ids.ok, 4);
    await settledMessages(server, ids.failing, 3);
  });

  test("one message shows its payload exactly as sent and its status at each consumer", async () => {
    const message = await server.api("GET", `/messages/${ids.alphaCreated}`);
    assert.equal(message.status, 200);
    const sent = ok.received.find((webhook) => webhook.headers["webhook-id"] === ids.alphaCreated)!;
    assert.equal(JSON.stringify(message.body.payload), sent.body, "the payload is the webhook body, byte for byte");
    assert.equal(message.body.payload.id, ids.alphaCreated);
    assert.equal(message.body.deliveries.length, 2);
    assertErrorMessage(await server.api("GET", "/messages/00000000-0000-4000-8000-000000000000"), 404, "unknown message", /Message not found/);
  });

  test("attempts are listed newest first with time, status code, duration, response excerpt and error", async () => {
    const attempts = (await server.api("GET", `/messages/${ids.alphaCreated}/attempts`)).body;
    assert.equal(attempts.results.length, 4, "one at the healthy consumer, three at the failing one");
    const times = attempts.results.map((attempt: any) => Date.parse(attempt.timestamp));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      "newest first",
    );
    const atFailing = attempts.results.filter((attempt: any) => attempt.webhookId === ids.failing);
    assert.deepEqual(
      atFailing.map((attempt: any) => attempt.attemptNumber),
      [3, 2, 1],
    );
    for (const attempt of atFailing) {
      assert.equal(attempt.statusCode, 500);
      assert.equal(attempt.responseExcerpt, "down for maintenance");
      assert.equal(attempt.error, "HTTP 500");
      assert.equal(attempt.succeeded, false);
      assert.equal(attempt.schedule, 1);
      assert.equal(attempt.messageId, ids.alphaCreated);
      assert.ok(Number.isInteger(attempt.durationMs) && attempt.durationMs >= 0);
    }
    const atOk = attempts.results.find((attempt: any) => attempt.webhookId === ids.ok);
    assert.deepEqual([atOk.statusCode, atOk.succeeded, atOk.error, atOk.attemptNumber], [204, true, null, 1]);

    const firstPage = (await server.api("GET", `/webhooks/${ids.failing}/messages/${ids.alphaCreated}/attempts?limit=2`)).body;
    assert.deepEqual([firstPage.results.length, firstPage.hasMore], [2, true]);
    const secondPage = (
      await server.api("GET", `/webhooks/${ids.failing}/messages/${ids.alphaCreated}/attempts?limit=2&cursor=${encodeURIComponent(firstPage.nextCursor)}`)
    ).body;
    assert.deepEqual([secondPage.results.length, secondPage.hasMore, secondPage.nextCursor], [1, false, null]);
    assert.deepEqual(
      [...firstPage.results, ...secondPage.results].map((attempt: any) => attempt.id),
      atFailing.map((attempt: any) => attempt.id),
    );
  });

  test("bad filters, limits, cursors and ids are refused with a 400 naming the problem", async () => {
    const cases: Array<[string, RegExp]> = [
      ["/messages?status=Lost", /status/],
      ["/messages?since=yesterday", /since must be an ISO 8601/],
      ["/messages?since=2024-05-01T12:00:00", /offset/],
      ["/messages?since=2024-05-02&until=2024-05-01", /until must be later than since/],
      ["/messages?cursor=not-a-cursor", /cursor is not valid/],
      ["/messages?limit=0", /limit/],
      ["/messages?limit=251", /limit/],
      ["/messages?companyId=alpha", /companyId/],
      ["/messages/not-a-uuid", /messageId/],
      [`/webhooks/${ids.ok}/messages?since=05/01/2024`, /since/],
      [`/messages/${ids.alphaCreated}/attempts?cursor=eyJ4IjoxfQ`, /cursor is not valid/],
    ];
    for (const [path, pattern] of cases) assertErrorMessage(await server.api("GET", path), 400, path, pattern);
  });

  test("the OpenAPI document describes every message endpoint", async () => {
    const document = (await server.api("GET", "/openapi.json")).body;
    const operations = Object.values(document.paths).flatMap((path: any) => Object.values(path).map((operation: any) => operation.operationId));
    for (const operationId of [
      "list-messages",
      "get-message",
      "list-message-attempts",
      "list-webhook-consumer-messages",
      "list-webhook-consumer-message-attempts",
      "resend-message",
      "recover-webhook-consumer-messages",
      "replay-webhook-consumer-messages",
    ]) {
      assert.ok(operations.includes(operationId), operationId);
    }
    const recover = document.paths["/webhooks/{webhookId}/recover"].post;
    assert.ok(recover.responses["202"] && recover.responses["404"] && recover.responses["409"] && recover.responses["410"]);
    assert.deepEqual(recover.requestBody.content["application/json"].schema.required, ["since"]);
  });
});

describe("tenant isolation of the message log", () => {
  let b: TestClient;
  let bConsumer: string;
  before(async () => {
    b = await server.addClient("Client B");
    bConsumer = await subscribe(b, ok.url);
  });

  test("another client's messages and consumers answer 404 and never show in its lists", async () => {
    assert.deepEqual((await b.api("GET", "/messages")).body.results, []);
    assert.deepEqual((await b.api("GET", `/messages?companyId=${ids.alpha}`)).body.results, []);
    assert.deepEqual((await b.api("GET", `/webhooks/${bConsumer}/messages`)).body.results, []);
    const refused: Array<[string, string, unknown?]> = [
      ["GET", `/messages/${ids.alphaCreated}`],
      ["GET", `/messages/${ids.alphaCreated}/attempts`],
      ["GET", `/webhooks/${ids.ok}/messages`],
      ["GET", `/webhooks/${ids.ok}/messages/${ids.alphaCreated}/attempts`],
      ["GET", `/webhooks/${bConsumer}/messages/${ids.alphaCreated}/attempts`],
      ["POST", `/webhooks/${bConsumer}/messages/${ids.alphaCreated}/resend`],
      ["POST", `/webhooks/${ids.ok}/messages/${ids.alphaCreated}/resend`],
      ["POST", `/webhooks/${ids.failing}/recover`, { since: "2000-01-01" }],
      ["POST", `/webhooks/${ids.ok}/replay`, { since: "2000-01-01" }],
    ];
    for (const [method, path, body] of refused) {
      const response = await b.api(method, path, body);
      assertErrorMessage(response, 404, `B ${method} ${path}`, /not found/);
      assert.ok(!JSON.stringify(response.body).includes("Alpha"), "tells nothing of A's message");
    }
  });

  test("nothing B tried reached A's consumers", async () => {
    const delivered = await allPages(server, `/webhooks/${ids.ok}/messages`);
    assert.ok(
      delivered.every((message) => message.deliveries[0].attemptCount === 1),
      "no resend was scheduled",
    );
    await until(
      "every message the log shows delivered to A's consumer to have arrived",
      () => Promise.resolve(ok.received.length),
      (count) => count >= delivered.length,
    );
    assert.equal(new Set(ok.received.map((webhook) => webhook.headers["webhook-id"])).size, ok.received.length, "no message arrived twice");
  });
});

describe("the messages CLI", () => {
  test("lists, filters and pages messages and attempts as tables and as JSON", async () => {
    const listed = JSON.parse(await cli(server, "messages", "list", "--client", server.clientId, "--event-type", "connection.created", "--json"));
    assert.deepEqual(idsOf(listed.results), [ids.connectionCreated]);
    const failed = JSON.parse(
      await cli(server, "messages", "list", "--client", server.clientId, "--webhook", ids.failing, "--status", "Failure", "--limit", "1", "--json"),
    );
    assert.deepEqual([failed.results.length, failed.hasMore], [1, true]);
    const table = await runCli(
      server.database.url,
      "messages",
      "list",
      "--client",
      server.clientId,
      "--webhook",
      ids.failing,
      "--status",
      "Failure",
      "--limit",
      "1",
    );
    assert.match(
      table.stdout.trimEnd(),
      /^ID +EVENT TYPE +GENERATED +COMPANY +DELIVERIES\n\S+ +\S+ +\S+ +\S+ +Failure \(\d+ attempts\)$/,
      "a table by default",
    );
    assert.ok(table.stderr.includes(`More: --cursor ${failed.nextCursor}`), "with the next page's cursor");
    const attempts = JSON.parse(await cli(server, "messages", "attempts", ids.alphaCreated, "--client", server.clientId, "--webhook", ids.failing, "--json"));
    assert.deepEqual(
      attempts.results.map((attempt: any) => attempt.attemptNumber),
      [3, 2, 1],
    );
    const message = JSON.parse(await cli(server, "messages", "get", ids.alphaCreated, "--client", server.clientId));
    assert.equal(message.payload.id, ids.alphaCreated);
  });

  test("another client's message is not found, and bad input is reported", async () => {
    const b = await server.addClient("Client C");
    await assert.rejects(cli(server, "messages", "get", ids.alphaCreated, "--client", b.clientId), (error: { stderr: string }) =>
      /Message not found/.test(error.stderr),
    );
    await assert.rejects(cli(server, "messages", "list", "--client", server.clientId, "--status", "Lost"), (error: { stderr: string }) =>
      /status must be one of/.test(error.stderr),
    );
  });
});
