import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { Webhook } from "standardwebhooks";
import { codatDocument } from "../src/openapi/codat.ts";
import { cli } from "./support/cli.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { Receiver } from "./support/receiver.ts";
import { callApi, startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";
import { asId, type MessageId } from "../src/ids.ts";

/** A validator that knows nothing of the Codat document: catalog schemas must stand on their own. */
function standaloneValidator() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  return ajv;
}

/** The webhook with this id, once the receiver has it (whatever else arrives meanwhile). */
async function receivedWithId(receiver: Receiver, id: string) {
  const found = await until(
    `the webhook ${id}`,
    async () => receiver.received.find((webhook) => webhook.headers["webhook-id"] === id),
    (webhook) => webhook !== undefined,
  );
  return found!;
}

describe("event catalog", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test("lists every event type of the Codat document with its description, a standalone schema and an example that the schema accepts", async () => {
    const response = await server.api("GET", "/events/catalog");
    assert.equal(response.status, 200);
    const entries: Array<{ eventType: string; description: string; publishable: boolean; schema: any; example: any }> = response.body.results;
    const byType = new Map(entries.map((entry) => [entry.eventType, entry]));
    for (const [eventType, { post }] of Object.entries(codatDocument.webhooks)) {
      const entry = byType.get(eventType);
      assert.ok(entry, `${eventType} is listed`);
      assert.equal(entry.description, post.description);
      assert.deepEqual(entry.example, Object.values(post.requestBody.content["application/json"].examples ?? {})[0]?.value);
    }
    const ajv = standaloneValidator();
    for (const entry of entries) {
      assert.ok(!JSON.stringify(entry.schema).includes('"codat#'), `${entry.eventType}: no reference into a document the client does not have`);
      const validate = ajv.compile(entry.schema);
      assert.ok(validate(entry.example), `${entry.eventType}: its example matches its schema: ${JSON.stringify(validate.errors)}`);
      assert.equal(validate({ ...(entry.example as object), id: 42 }), false, `${entry.eventType}: the schema checks the body (a numeric id is refused)`);
    }
    const readCompleted = byType.get("read.completed")!;
    assert.equal(
      ajv.compile(readCompleted.schema)({ ...readCompleted.example, payload: { dataTypes: [{ dataType: "not-a-data-type" }] } }),
      false,
      "nested components (the data type enum) are included",
    );
  });

  test("tells which types the operator may publish: reads, writes and products, not what Hookline emits itself", async () => {
    const entries: Array<{ eventType: string; publishable: boolean }> = (await server.api("GET", "/events/catalog")).body.results;
    const publishable = entries
      .filter((entry) => entry.publishable)
      .map((entry) => entry.eventType)
      .sort();
    assert.deepEqual(publishable, [
      "company.product.added",
      "company.product.removed",
      "read.completed",
      "read.completed.initial",
      "{dataType}.write.successful",
      "{dataType}.write.unsuccessful",
    ]);
  });

  test("needs an API key", async () => {
    const response = await callApi(server.baseUrl, null, "GET", "/events/catalog");
    assertErrorMessage(response, 401);
  });

  test("the CLI prints the same catalog", async () => {
    const stdout = await cli(server, "events", "catalog");
    assert.deepEqual(JSON.parse(stdout), (await server.api("GET", "/events/catalog")).body);
  });

  test("the served OpenAPI document describes the event endpoints", async () => {
    const document = (await callApi(server.baseUrl, null, "GET", "/openapi.json")).body;
    assert.equal(document.paths["/events/catalog"].get.operationId, "get-event-catalog");
    assert.equal(document.paths["/events"].post.operationId, "publish-event");
    assert.equal(document.paths["/events/batch"].post.operationId, "publish-events");
    assert.equal(document.paths["/webhooks/{webhookId}/examples"].post.operationId, "send-example-event");
  });
});

describe("example events", () => {
  let server: TestServer;
  let target: Receiver;
  let bystander: Receiver;
  let targetId: string;
  before(async () => {
    server = await startTestServer({ retrySchedule: "100ms,100ms" });
    // The target fails its first attempt, so the example is seen to be retried like any delivery.
    target = await Receiver.start((index, _webhook, response) => response.writeHead(index === 0 ? 500 : 204).end());
    bystander = await Receiver.start();
    targetId = (await server.api("POST", "/webhooks", { url: target.url, eventTypes: ["company.created"] })).body.id;
    await server.api("POST", "/webhooks", { url: bystander.url, eventTypes: ["connection.failed", "company.created"] });
  });
  after(async () => {
    await server.close();
    await target.close();
    await bystander.close();
  });

  test("the catalog example goes, signed and retried, to that consumer only, with a fresh id and date, marked as an example", async () => {
    const before = Date.now();
    const response = await server.api("POST", `/webhooks/${targetId}/examples`, { eventType: "connection.failed" });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const catalogExample = codatDocument.webhooks["connection.failed"]!.post.requestBody.content["application/json"].examples!["Connection failed"]!
      .value as any;
    assert.notEqual(response.body.id, catalogExample.id, "a fresh id");
    assert.ok(Date.parse(response.body.generatedDate) >= before - 1000, "generated now");
    assert.equal(response.body.eventType, "connection.failed");
    assert.deepEqual(response.body.payload, catalogExample.payload);

    const [failed, retried] = await target.waitFor(2);
    assert.equal(retried!.headers["webhook-id"], response.body.id);
    assert.equal(failed!.body, retried!.body);
    assert.deepEqual(JSON.parse(retried!.body), response.body);
    const secret = (await server.api("GET", `/webhooks/${targetId}/secret`)).body.key;
    new Webhook(secret).verify(retried!.body, retried!.headers as Record<string, string>);

    const db = server.hookline.ctx.store.db;
    const message = await db.selectFrom("messages").select(["example", "event_type"]).where("id", "=", response.body.id).executeTakeFirstOrThrow();
    assert.deepEqual(message, { example: 1, event_type: "connection.failed" });
    const deliveries = await db.selectFrom("deliveries").select("consumer_id").where("message_id", "=", response.body.id).execute();
    assert.deepEqual(deliveries, [{ consumer_id: targetId }], "one delivery, to the target");
    await until(
      "the example delivered",
      () => db.selectFrom("deliveries").select("status").where("message_id", "=", response.body.id).executeTakeFirstOrThrow(),
      (row) => row.status === "Success",
    );

    // The bystander subscribes to connection.failed but got nothing: the next thing it receives is an ordinary event.
    await server.api("POST", "/companies", { name: "After the example" });
    await bystander.waitFor(1);
    assert.deepEqual(
      bystander.events().map((event) => event.eventType),
      ["company.created"],
    );
    const ordinary = bystander.events()[0]!;
    assert.equal((await db.selectFrom("messages").select("example").where("id", "=", asId<MessageId>(ordinary.id)).executeTakeFirstOrThrow()).example, 0);
  });

  test("{dataType} types take a data type, and the example carries it", async () => {
    const response = await server.api("POST", `/webhooks/${targetId}/examples`, { eventType: "invoices.write.successful" });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.equal(response.body.eventType, "invoices.write.successful");
    assert.equal(JSON.parse((await receivedWithId(target, response.body.id)).body).eventType, "invoices.write.successful");
  });

  test("unknown types, the bare {dataType} placeholder and foreign consumers are refused", async () => {
    for (const eventType of ["nothing.happened", "{dataType}.write.successful", "widgets.write.successful"]) {
      const response = await server.api("POST", `/webhooks/${targetId}/examples`, { eventType });
      assert.equal(response.status, 400, eventType);
      assert.match(
        response.body.error,
        eventType.startsWith("{") ? /is a pattern, not an event type.*e\.g\. "invoices\.write\.successful"/ : /Valid event types: company\.created/,
        "the bare placeholder is answered with the concrete form to write",
      );
    }
    const other = await server.addClient("Other client");
    const foreign = await other.api("POST", `/webhooks/${targetId}/examples`, { eventType: "company.created" });
    assert.equal(foreign.status, 404);
    assert.equal((await server.api("POST", `/webhooks/${targetId}/examples`, {})).status, 400);
  });

  test("a disabled consumer is not sent examples until it is enabled", async () => {
    assert.equal((await server.api("POST", `/webhooks/${targetId}/disable`)).status, 200);
    // The target is shared with the other tests of this block: it is enabled again whatever happens here.
    try {
      const response = await server.api("POST", `/webhooks/${targetId}/examples`, { eventType: "company.created" });
      assert.equal(response.status, 409);
      assert.match(response.body.error, /disabled/);
    } finally {
      assert.equal((await server.api("POST", `/webhooks/${targetId}/enable`)).status, 200);
    }
    assert.equal((await server.api("POST", `/webhooks/${targetId}/examples`, { eventType: "company.created" })).status, 202);
  });
});
