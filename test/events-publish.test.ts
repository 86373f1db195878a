import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runCli } from "./support/cli.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { Receiver } from "./support/receiver.ts";
import { eventSchemaErrors } from "./support/schemas.ts";
import { basicAuth, startTestServer, type ApiResponse, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";
import { asId, type ClientId } from "../src/ids.ts";

/** A POST with extra headers (Idempotency-Key), as the operator's systems send it. */
async function post(server: TestServer, apiKey: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method: "POST",
    headers: { authorization: basicAuth(apiKey), "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

const readCompleted = (dataTypes: unknown[] = [{ dataType: "invoices", recordsModified: true, status: "Complete" }]) => ({
  modifiedFromDate: "2024-05-01T00:00:00Z",
  dataTypes,
});

async function messageCount(server: TestServer): Promise<number> {
  const row = await server.hookline.ctx.store.db
    .selectFrom("messages")
    .select((eb) => eb.fn.countAll().as("count"))
    .where("client_id", "=", asId<ClientId>(server.clientId))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

describe("publishing events", () => {
  let server: TestServer;
  let us: Receiver;
  let eu: Receiver;
  let everyone: Receiver;
  let writes: Receiver;
  let everyoneId: string;
  let usCompany: { id: string; name: string };
  let euCompany: { id: string };

  before(async () => {
    server = await startTestServer({ idempotencyKeyTtl: "1s" });
    [us, eu, everyone, writes] = await Promise.all([Receiver.start(), Receiver.start(), Receiver.start(), Receiver.start()]);
    await server.api("POST", "/webhooks", { url: us.url, eventTypes: ["read.completed"], companyTags: ["region:us"] });
    await server.api("POST", "/webhooks", { url: eu.url, eventTypes: ["read.completed"], companyTags: ["region:eu"] });
    everyoneId = (await server.api("POST", "/webhooks", { url: everyone.url, eventTypes: ["read.completed", "company.product.added"] })).body.id;
    await server.api("POST", "/webhooks", { url: writes.url, eventTypes: ["{dataType}.write.successful"] });
    usCompany = (await server.api("POST", "/companies", { name: "Toft stores", tags: { region: "us" } })).body;
    euCompany = (await server.api("POST", "/companies", { name: "Brioche SARL", tags: { region: "eu" } })).body;
  });
  after(async () => {
    await server.close();
    await Promise.all([us, eu, everyone, writes].map((receiver) => receiver.close()));
  });

  test("read.completed for a company reaches the consumers its tags match, valid against the Codat schema, with referenceCompany filled in", async () => {
    const response = await server.api("POST", "/events", { eventType: "read.completed", companyId: usCompany.id, payload: readCompleted() });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    assert.equal(response.body.eventType, "read.completed");
    assert.equal(response.body.payload.referenceCompany.id, usCompany.id);
    assert.equal(response.body.payload.referenceCompany.name, "Toft stores");
    assert.deepEqual(response.body.payload.referenceCompany.tags, { region: "us" });

    const [toUs] = await us.waitFor(1);
    const [toEveryone] = await everyone.waitFor(1);
    assert.equal(toUs!.body, toEveryone!.body);
    assert.deepEqual(JSON.parse(toUs!.body), response.body, "consumers get the event the publisher was answered");
    assert.deepEqual(eventSchemaErrors(toUs!.body), []);

    // The eu consumer's tag does not match: the next thing it gets is the eu company's event.
    await server.api("POST", "/events", { eventType: "read.completed", companyId: euCompany.id, payload: readCompleted() });
    const [toEu] = await eu.waitFor(1);
    assert.equal(JSON.parse(toEu!.body).payload.referenceCompany.id, euCompany.id);
  });

  test("without companyId the company is payload.referenceCompany; without either the event goes only to consumers without tags", async () => {
    const byReference = await server.api("POST", "/events", {
      eventType: "read.completed",
      payload: { ...readCompleted(), referenceCompany: { id: usCompany.id, name: "Toft stores" } },
    });
    assert.equal(byReference.status, 201, JSON.stringify(byReference.body));
    const toUs = await us.waitFor(2);
    assert.equal(toUs[1]!.headers["webhook-id"], byReference.body.id);

    const product = await server.api("POST", "/events", {
      eventType: "company.product.added",
      payload: { productId: "lending", productName: "Lending", products: ["lending"] },
    });
    assert.equal(product.status, 201, JSON.stringify(product.body));
    const received = await everyone.waitFor(4);
    assert.ok(received.some((webhook) => webhook.headers["webhook-id"] === product.body.id));
    assert.deepEqual(eventSchemaErrors(received.find((webhook) => webhook.headers["webhook-id"] === product.body.id)!.body), []);

    // The tagged consumers subscribe to read.completed too: only their tag filter keeps an event about no company from them.
    const aboutNoCompany = await server.api("POST", "/events", { eventType: "read.completed", payload: readCompleted() });
    assert.equal(aboutNoCompany.status, 201, JSON.stringify(aboutNoCompany.body));
    const logged = await server.api("GET", `/messages/${aboutNoCompany.body.id}`);
    assert.deepEqual(
      logged.body.deliveries.map((delivery: { webhookId: string }) => delivery.webhookId),
      [everyoneId],
      "delivered to the consumer without tags alone",
    );
  });

  test("invoices.write.successful is published to a {dataType}.write.successful consumer", async () => {
    const payload = {
      id: "a9367074-b5c3-42c4-9be4-be129f43577e",
      type: "Create",
      status: "Success",
      requestedOnDate: "2024-05-01T10:00:00Z",
      completedOnDate: "2024-05-01T10:00:23Z",
      record: { id: "inv_1" },
    };
    const response = await server.api("POST", "/events", { eventType: "invoices.write.successful", companyId: usCompany.id, payload });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    const [webhook] = await writes.waitFor(1);
    const event = JSON.parse(webhook!.body);
    assert.equal(event.eventType, "invoices.write.successful");
    assert.deepEqual(eventSchemaErrors(webhook!.body), []);
  });

  test("an event that does not match its type's schema is a 400 naming each problem, and publishes nothing", async () => {
    const before = await messageCount(server);
    const response = await server.api("POST", "/events", {
      eventType: "read.completed",
      companyId: usCompany.id,
      payload: { dataTypes: [{ dataType: "invoices", status: 42 }, { dataType: "not-a-type" }], modifiedFromDate: 7 },
    });
    assertErrorMessage(response, 400, "an event off its type's schema");
    const items = response.body.validation.errors.map((item: { itemId: string }) => item.itemId);
    assert.ok(items.includes("body/payload/dataTypes/0/status"), JSON.stringify(items));
    assert.ok(items.includes("body/payload/dataTypes/1/dataType"), JSON.stringify(items));
    assert.ok(items.includes("body/payload/modifiedFromDate"), JSON.stringify(items));
    assert.equal(await messageCount(server), before);
  });

  test("unknown companies are a 404; Hookline's own types, unknown types and the bare placeholder a 400", async () => {
    const unknownCompany = await server.api("POST", "/events", {
      eventType: "read.completed",
      companyId: "1f0c1b1e-0000-4000-8000-000000000000",
      payload: readCompleted(),
    });
    assert.equal(unknownCompany.status, 404);
    const other = await server.addClient("Other client");
    const foreign = await other.api("POST", "/events", { eventType: "read.completed", companyId: usCompany.id, payload: readCompleted() });
    assert.equal(foreign.status, 404, "another client's company is unknown");
    for (const eventType of [
      "connection.failed",
      "company.created",
      "client.rateLimit.reached",
      "webhook.consumer.disabled",
      "{dataType}.write.successful",
      "nothing.happened",
    ]) {
      const response = await server.api("POST", "/events", { eventType, companyId: usCompany.id, payload: {} });
      // The error lists the publishable types.
      assertErrorMessage(response, 400, eventType, /read\.completed/);
      assert.equal(response.body.validation.errors[0].itemId, "body/eventType");
      if (eventType.startsWith("{"))
        assert.match(response.body.error, /is a pattern, not an event type: name the data type, e\.g\. "invoices\.write\.successful"/);
    }
    const mismatch = await server.api("POST", "/events", {
      eventType: "read.completed",
      companyId: usCompany.id,
      payload: { referenceCompany: { id: euCompany.id } },
    });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.validation.errors[0].itemId, "body/payload/referenceCompany/id");
    assert.equal((await server.api("POST", "/events", { eventType: "read.completed" })).status, 400, "payload is required");
  });

  test("Idempotency-Key: a retry publishes nothing and answers the original event; another body with the key is a 422", async () => {
    const request = { eventType: "read.completed", companyId: euCompany.id, payload: readCompleted() };
    const first = await post(server, server.apiKey, "/events", request, { "idempotency-key": "sync-run-17" });
    assert.equal(first.status, 201);
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const before = await messageCount(server);
    const retry = await post(server, server.apiKey, "/events", request, { "idempotency-key": "sync-run-17" });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(retry.body, first.body, "the same event, same id");
    assert.equal(await messageCount(server), before, "nothing published again");

    const changed = await post(server, server.apiKey, "/events", { ...request, payload: readCompleted([]) }, { "idempotency-key": "sync-run-17" });
    assertErrorMessage(changed, 422, "another body with the key");

    const other = await server.addClient("Keys are per client");
    const otherCompany = (await other.api("POST", "/companies", { name: "Other" })).body;
    const otherFirst = await post(server, other.apiKey, "/events", { ...request, companyId: otherCompany.id }, { "idempotency-key": "sync-run-17" });
    assert.equal(otherFirst.status, 201, "another client's key of the same name is its own");

    assert.equal((await post(server, server.apiKey, "/events", request, { "idempotency-key": "bad key with spaces" })).status, 400);

    // Keys are kept for HOOKLINE_IDEMPOTENCY_KEY_TTL (1 s here): once it has passed, the key publishes anew.
    const again = await until(
      "the key to expire and the request to publish anew",
      () => post(server, server.apiKey, "/events", request, { "idempotency-key": "sync-run-17" }),
      (response) => response.status === 201,
    );
    assert.notEqual(again.body.id, first.body.id);
  });

  test("a refused publish leaves its Idempotency-Key unclaimed: the corrected request with the key publishes", async () => {
    const request = { eventType: "read.completed", companyId: euCompany.id, payload: readCompleted() };
    const before = await messageCount(server);
    const refused = await post(
      server,
      server.apiKey,
      "/events",
      { ...request, payload: readCompleted([{ dataType: "invoices", status: "Exploded" }]) },
      { "idempotency-key": "fixed-later" },
    );
    assert.equal(refused.status, 400);
    assert.equal(refused.headers.get("idempotent-replayed"), null);
    const corrected = await post(server, server.apiKey, "/events", request, { "idempotency-key": "fixed-later" });
    assert.equal(corrected.status, 201, "not a 422 for a different body, nor a replay of the refusal");
    assert.equal(await messageCount(server), before + 1);
  });

  test("concurrent requests with one key publish once", async () => {
    const request = { eventType: "read.completed", companyId: euCompany.id, payload: readCompleted() };
    const before = await messageCount(server);
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(server, server.apiKey, "/events", request, { "idempotency-key": "concurrent" })));
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 200, 200, 200, 200, 201]);
    assert.equal(new Set(answers.map((answer) => answer.body.id)).size, 1);
    assert.equal(await messageCount(server), before + 1);
  });
});

/**
 * The set-up of a describe block: a server with one receiver subscribed to
 * `eventTypes` and one company, there for its tests and closed after them.
 */
function oneConsumer(eventTypes: string[], companyName: string) {
  const fixture = {} as { server: TestServer; receiver: Receiver; companyId: string };
  before(async () => {
    fixture.server = await startTestServer();
    fixture.receiver = await Receiver.start();
    await fixture.server.api("POST", "/webhooks", { url: fixture.receiver.url, eventTypes });
    fixture.companyId = (await fixture.server.api("POST", "/companies", { name: companyName })).body.id;
  });
  after(async () => {
    await fixture.server.close();
    await fixture.receiver.close();
  });
  return fixture;
}

describe("publishing from many requests at once", () => {
  const fixture = oneConsumer(["read.completed"], "Busy Co");

  test("each request gets its own answer, valid or not, with or without a key, and each event published is delivered once", async () => {
    // On PostgreSQL, publishes without a key that arrive while another's insert runs are written together (group commit).
    const event = (second: number) => ({
      eventType: "read.completed",
      companyId: fixture.companyId,
      payload: { ...readCompleted(), modifiedFromDate: `2024-05-01T00:00:${String(second).padStart(2, "0")}Z` },
    });
    type Expected = { status: number; second?: number; key?: string };
    const requests: Array<{ body: unknown; key?: string; expected: Expected }> = [
      ...Array.from({ length: 24 }, (_, second) => ({ body: event(second), expected: { status: 201, second } })),
      ...Array.from({ length: 4 }, () => ({ body: { ...event(30), payload: { modifiedFromDate: 7 } }, expected: { status: 400 } })),
      ...Array.from({ length: 2 }, () => ({ body: { ...event(31), companyId: "00000000-0000-4000-8000-000000000000" }, expected: { status: 404 } })),
      ...["run-1", "run-2", "run-3"].flatMap((key, index) =>
        Array.from({ length: 3 }, () => ({ body: event(40 + index), key, expected: { status: 0, second: 40 + index, key } })),
      ),
    ];
    const before = await messageCount(fixture.server);
    const answers = await Promise.all(
      requests.map(({ body, key }) => post(fixture.server, fixture.server.apiKey, "/events", body, key === undefined ? {} : { "idempotency-key": key })),
    );

    const published = new Set<string>();
    for (const [index, { expected }] of requests.entries()) {
      const answer = answers[index]!;
      if (expected.key === undefined) assert.equal(answer.status, expected.status, `request ${index}: ${JSON.stringify(answer.body)}`);
      if (expected.second === undefined) continue;
      assert.equal(answer.body.payload.modifiedFromDate, event(expected.second).payload.modifiedFromDate, `request ${index} answers its own event`);
      if (answer.status === 201) published.add(answer.body.id);
    }
    for (const key of ["run-1", "run-2", "run-3"]) {
      const keyed = answers.filter((_, index) => requests[index]!.key === key);
      assert.deepEqual(keyed.map((answer) => answer.status).sort(), [200, 200, 201], `${key}: published once, replayed twice`);
      assert.equal(new Set(keyed.map((answer) => answer.body.id)).size, 1);
    }
    assert.equal(published.size, 27);
    assert.equal(await messageCount(fixture.server), before + 27);

    const deliveries = () => fixture.server.hookline.ctx.store.db.selectFrom("deliveries").select(["message_id", "status", "attempt_count"]).execute();
    const delivered = await until("every delivery succeeded", deliveries, (rows) => rows.length === 27 && rows.every((row) => row.status === "Success"));
    assert.deepEqual(new Set(delivered.map((row) => row.message_id)), published);
    assert.ok(delivered.every((row) => row.attempt_count === 1));
    assert.equal(fixture.receiver.received.length, 27, "each event received once");
    assert.deepEqual(new Set(fixture.receiver.received.map((webhook) => webhook.headers["webhook-id"])), published);
  });
});

describe("publishing a batch", () => {
  const fixture = oneConsumer(["read.completed", "{dataType}.write.unsuccessful"], "Batch Co");

  test("many events in one request are all published and delivered", async () => {
    const events = Array.from({ length: 250 }, (_, index) =>
      index % 2 === 0
        ? { eventType: "read.completed", companyId: fixture.companyId, payload: readCompleted() }
        : { eventType: "bills.write.unsuccessful", companyId: fixture.companyId, payload: { id: `push-${index}`, type: "Create", status: "Failed" } },
    );
    const response = await post(fixture.server, fixture.server.apiKey, "/events/batch", { events }, { "idempotency-key": "batch-1" });
    assert.equal(response.status, 201, JSON.stringify(response.body).slice(0, 500));
    assert.equal(response.body.results.length, 250);
    assert.deepEqual(
      response.body.results.map((event: { eventType: string }) => event.eventType),
      events.map((event) => event.eventType),
    );
    const received = await fixture.receiver.waitFor(250);
    assert.deepEqual(
      new Set(received.map((webhook) => webhook.headers["webhook-id"])),
      new Set(response.body.results.map((event: { id: string }) => event.id)),
    );

    const replay = await post(fixture.server, fixture.server.apiKey, "/events/batch", { events }, { "idempotency-key": "batch-1" });
    assert.equal(replay.status, 200);
    assert.deepEqual(replay.body, response.body);
  });

  test("one invalid event rejects the whole batch, with every problem under its index", async () => {
    const before = await messageCount(fixture.server);
    const response = await fixture.server.api("POST", "/events/batch", {
      events: [
        { eventType: "read.completed", companyId: fixture.companyId, payload: readCompleted() },
        { eventType: "read.completed", companyId: fixture.companyId, payload: { dataTypes: "all of them" } },
        { eventType: "connection.connected", companyId: fixture.companyId, payload: {} },
        { eventType: "read.completed", companyId: "1f0c1b1e-0000-4000-8000-000000000000", payload: readCompleted() },
      ],
    });
    assertErrorMessage(response, 400, "a batch with invalid events");
    const items = response.body.validation.errors.map((item: { itemId: string }) => item.itemId);
    assert.deepEqual(items, ["body/events/1/payload/dataTypes", "body/events/2/eventType", "body/events/3/companyId"]);
    assert.equal(await messageCount(fixture.server), before, "nothing of the batch was published");
  });

  test("a batch holds 1 to 1000 events", async () => {
    const event = { eventType: "read.completed", companyId: fixture.companyId, payload: readCompleted() };
    assert.equal((await fixture.server.api("POST", "/events/batch", { events: [] })).status, 400);
    const tooMany = await fixture.server.api("POST", "/events/batch", { events: Array.from({ length: 1001 }, () => event) });
    assertErrorMessage(tooMany, 400, "1001 events", /1000/);
  });

  test("the CLI publishes an event as the API does", async () => {
    const run = (key: string) =>
      runCli(
        fixture.server.database.url,
        "events",
        "publish",
        "read.completed",
        "--client",
        fixture.server.clientId,
        "--company",
        fixture.companyId,
        "--payload",
        JSON.stringify(readCompleted()),
        "--idempotency-key",
        key,
      );
    const before = fixture.receiver.received.length;
    const event = JSON.parse((await run("cli-1")).stdout);
    assert.equal(event.eventType, "read.completed");
    assert.equal(event.payload.referenceCompany.id, fixture.companyId);
    const received = await fixture.receiver.waitFor(before + 1);
    assert.ok(received.some((webhook) => webhook.headers["webhook-id"] === event.id));
    const replay = await run("cli-1");
    assert.equal(JSON.parse(replay.stdout).id, event.id);
    assert.match(replay.stderr, /nothing was published again/);
  });
});
