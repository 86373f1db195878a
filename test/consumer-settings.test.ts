import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { asId, type ConsumerId } from "../src/ids.ts";
import { cli } from "./support/cli.ts";
import { recorded, signatureHeadersOf, subscribe } from "./support/consumers.ts";
import { Receiver, withReceiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

describe("getting and updating a consumer", () => {
  let server: TestServer;
  let first: Receiver;
  let second: Receiver;
  before(async () => {
    server = await startTestServer();
    first = await Receiver.start();
    second = await Receiver.start();
  });
  after(async () => {
    await server.close();
    await first.close();
    await second.close();
  });

  test("PATCH changes the fields given, keeps the others, and deliveries follow the new settings", async () => {
    const id = await subscribe(server, first.url, { companyTags: ["region:us"] });
    const got = await server.api("GET", `/webhooks/${id}`);
    assert.deepEqual(got.body, {
      id,
      url: first.url,
      disabled: false,
      eventTypes: ["company.created"],
      companyTags: ["region:us"],
      description: null,
      rateLimit: null,
      slowConcurrency: null,
      mtls: null,
      ordering: "unordered",
      circuit: { state: "closed", consecutiveFailures: 0, nextProbeAt: null },
      secretOverlapEndsAt: null,
      shadow: null,
      replacesWebhookId: null,
    });

    const patched = await server.api("PATCH", `/webhooks/${id}`, {
      url: second.url,
      eventTypes: ["company.created", "company.deleted"],
      companyTags: null,
      description: "Billing team",
      rateLimit: 50,
      slowConcurrency: 4,
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const expected = {
      id,
      url: second.url,
      disabled: false,
      eventTypes: ["company.created", "company.deleted"],
      companyTags: null,
      description: "Billing team",
      rateLimit: 50,
      slowConcurrency: 4,
      mtls: null,
      ordering: "unordered",
      circuit: { state: "closed", consecutiveFailures: 0, nextProbeAt: null },
      secretOverlapEndsAt: null,
      shadow: null,
      replacesWebhookId: null,
    };
    assert.deepEqual(patched.body, expected);
    assert.deepEqual((await server.api("GET", `/webhooks/${id}`)).body, expected);
    assert.deepEqual((await server.api("PATCH", `/webhooks/${id}`, { description: null })).body, { ...expected, description: null }, "absent fields stay");
    assert.equal((await server.api("PATCH", `/webhooks/${id}`, { slowConcurrency: null })).body.slowConcurrency, null, "null is the operator's default again");

    const company = (await server.api("POST", "/companies", { name: "Untagged" })).body;
    const [webhook] = await second.waitFor(1);
    assert.equal(JSON.parse(webhook!.body).payload.id, company.id, "the new URL gets the events; the tag filter is gone");
    assert.equal(first.received.length, 0);
  });

  test("PATCH validates like create and changes nothing when it refuses", async () => {
    const id = await subscribe(server, first.url);
    const before = (await server.api("GET", `/webhooks/${id}`)).body;
    const unknown = await server.api("PATCH", `/webhooks/${id}`, { eventTypes: ["company.created", "company.exploded"] });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error, /company\.exploded/);
    assert.ok(unknown.body.error.includes("connection.failed") && unknown.body.error.includes("webhook.consumer.disabled"), "lists the valid event types");
    assert.equal(unknown.body.validation.errors[0].itemId, "eventTypes");

    for (const url of ["http://10.0.0.1/hooks", "http://169.254.169.254/latest/meta-data", "ftp://example.com/hooks"]) {
      const refused = await server.api("PATCH", `/webhooks/${id}`, { url });
      assert.equal(refused.status, 400, `${url} is refused`);
      assert.equal(refused.body.validation.errors[0].itemId, "url");
    }
    for (const body of [
      {},
      { rateLimit: 0 },
      { rateLimit: 2.5 },
      { slowConcurrency: 0 },
      { slowConcurrency: 17 },
      { slowConcurrency: "many" },
      { eventTypes: [] },
      { companyTags: ["no-colon"] },
      { colour: "red" },
      { disabled: "maybe" },
    ]) {
      assert.equal((await server.api("PATCH", `/webhooks/${id}`, body)).status, 400, JSON.stringify(body));
    }
    const twoWrong = await server.api("PATCH", `/webhooks/${id}`, { eventTypes: ["company.exploded"], companyTags: ["no-colon"] });
    assert.deepEqual(
      twoWrong.body.validation.errors.map((error: { itemId: string }) => error.itemId),
      ["eventTypes", "companyTags"],
    );
    assert.match(
      twoWrong.body.error,
      /e\.g\. "invoices\.write\.successful" \(data types: .*\); .*no-colon/,
      "the message names both, apart, and how to write a {dataType} type",
    );
    assert.deepEqual((await server.api("GET", `/webhooks/${id}`)).body, before);
  });

  test("a disabled consumer gets no deliveries for new events until enabled", async (t) => {
    const receiver = await withReceiver(t);
    const id = await subscribe(server, receiver.url);
    const disabled = await server.api("POST", `/webhooks/${id}/disable`);
    assert.equal(disabled.status, 200);
    assert.equal(disabled.body.disabled, true);
    await server.api("POST", "/companies", { name: "While disabled" });
    assert.equal((await recorded(server, id)).deliveries.length, 0, "no delivery is even scheduled");

    const enabled = await server.api("POST", `/webhooks/${id}/enable`);
    assert.equal(enabled.body.disabled, false);
    const company = (await server.api("POST", "/companies", { name: "After enabling" })).body;
    const [webhook] = await receiver.waitFor(1);
    assert.equal(JSON.parse(webhook!.body).payload.id, company.id);
    assert.equal((await server.api("PATCH", `/webhooks/${id}`, { disabled: true })).body.disabled, true, "PATCH disables too");
  });

  test("another client's consumer answers 404 to every operation and is left as it was", async () => {
    const id = await subscribe(server, first.url);
    const other = await server.addClient("Other client");
    const attempts: Array<[string, string, unknown?]> = [
      ["GET", `/webhooks/${id}`],
      ["PATCH", `/webhooks/${id}`, { description: "mine now" }],
      ["POST", `/webhooks/${id}/disable`],
      ["POST", `/webhooks/${id}/enable`],
      ["POST", `/webhooks/${id}/secret/rotate`],
      ["GET", `/webhooks/${id}/headers`],
      ["PUT", `/webhooks/${id}/headers`, { headers: { "X-Evil": "1" } }],
      ["PATCH", `/webhooks/${id}/headers`, { headers: { "X-Evil": "1" } }],
      ["DELETE", `/webhooks/${id}/headers/X-Evil`],
      ["DELETE", `/webhooks/${id}/mtls`],
    ];
    const before = (await server.api("GET", `/webhooks/${id}`)).body;
    const secret = (await server.api("GET", `/webhooks/${id}/secret`)).body.key;
    for (const [method, path, body] of attempts) assert.equal((await other.api(method, path, body)).status, 404, `${method} ${path}`);
    assert.deepEqual((await server.api("GET", `/webhooks/${id}`)).body, before);
    assert.equal((await server.api("GET", `/webhooks/${id}/secret`)).body.key, secret);
    assert.deepEqual((await server.api("GET", `/webhooks/${id}/headers`)).body, { headers: {} });
  });

  test("every consumer endpoint, and the webhook.consumer.disabled event, is documented in the served OpenAPI document", async () => {
    const { paths, webhooks } = (await server.api("GET", "/openapi.json")).body;
    assert.ok(
      webhooks["webhook.consumer.disabled"].post.requestBody.content["application/json"].schema.properties.payload,
      "Hookline's own event is beside Codat's",
    );
    assert.ok(webhooks["connection.failed"]);
    const operations: Array<[string, string, string]> = [
      ["/webhooks/{webhookId}", "get", "get-webhook-consumer"],
      ["/webhooks/{webhookId}", "patch", "update-webhook-consumer"],
      ["/webhooks/{webhookId}", "delete", "delete-webhook-consumer"],
      ["/webhooks/{webhookId}/enable", "post", "enable-webhook-consumer"],
      ["/webhooks/{webhookId}/disable", "post", "disable-webhook-consumer"],
      ["/webhooks/{webhookId}/secret/rotate", "post", "rotate-webhook-consumer-secret"],
      ["/webhooks/{webhookId}/headers", "get", "list-webhook-consumer-headers"],
      ["/webhooks/{webhookId}/headers", "put", "replace-webhook-consumer-headers"],
      ["/webhooks/{webhookId}/headers", "patch", "update-webhook-consumer-headers"],
      ["/webhooks/{webhookId}/headers/{headerName}", "delete", "delete-webhook-consumer-header"],
      ["/webhooks/{webhookId}/mtls", "put", "set-webhook-consumer-mtls"],
      ["/webhooks/{webhookId}/mtls", "delete", "delete-webhook-consumer-mtls"],
    ];
    for (const [path, method, operationId] of operations) {
      const operation = paths[path]?.[method];
      assert.equal(operation?.operationId, operationId, `${method.toUpperCase()} ${path}`);
      assert.ok(operation.responses["404"], `${operationId} documents its errors`);
    }
  });
});

describe("custom headers", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ retrySchedule: "100ms" });
  });
  after(() => server.close());

  const token = "Bearer tok_9f8e7d6c5b4a";

  test("are sent with every attempt, listed masked, never logged, and removable", async (t) => {
    const receiver = await withReceiver(t, (index, _webhook, response) => response.writeHead(index === 0 ? 500 : 204).end());
    const id = await subscribe(server, receiver.url);
    const set = await server.api("PUT", `/webhooks/${id}/headers`, { headers: { Authorization: token, "X-Codat-ClientId": "c-42" } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body, { headers: { Authorization: "****5b4a", "X-Codat-ClientId": "****" } });
    assert.deepEqual((await server.api("GET", `/webhooks/${id}/headers`)).body, set.body, "values are never returned in full");

    await server.api("POST", "/companies", { name: "With headers" });
    const [failed, retried] = await receiver.waitFor(2);
    for (const webhook of [failed!, retried!]) {
      assert.equal(webhook.headers.authorization, token, "sent with every attempt");
      assert.equal(webhook.headers["x-codat-clientid"], "c-42");
      assert.equal(webhook.headers["content-type"], "application/json");
    }
    assert.ok(!server.logs().includes("tok_9f8e7d6c5b4a"), "header values are not logged");

    assert.equal((await server.api("DELETE", `/webhooks/${id}/headers/authorization`)).status, 204, "names match in any letter case");
    assert.deepEqual((await server.api("GET", `/webhooks/${id}/headers`)).body, { headers: { "X-Codat-ClientId": "****" } });
    assert.equal((await server.api("DELETE", `/webhooks/${id}/headers/authorization`)).status, 404);
    await server.api("POST", "/companies", { name: "Without authorization" });
    const [, , third] = await receiver.waitFor(3);
    assert.equal(third!.headers.authorization, undefined);
    assert.equal(third!.headers["x-codat-clientid"], "c-42");
  });

  test("PATCH adds to the set, PUT replaces it, and a name given in another case replaces the stored one", async () => {
    const id = await subscribe(server, "http://127.0.0.1:9/hooks");
    await server.api("PUT", `/webhooks/${id}/headers`, { headers: { "X-One": "1", "X-Two": "2" } });
    assert.deepEqual((await server.api("PATCH", `/webhooks/${id}/headers`, { headers: { "x-one": "uno", "X-Three": "3" } })).body.headers, {
      "X-Two": "****",
      "x-one": "****",
      "X-Three": "****",
    });
    assert.deepEqual((await server.api("PUT", `/webhooks/${id}/headers`, { headers: { "X-Four": "4" } })).body.headers, { "X-Four": "****" });
    assert.deepEqual((await server.api("PUT", `/webhooks/${id}/headers`, { headers: {} })).body.headers, {});
  });

  test("reserved names, invalid names and values with CR or LF are refused without echoing the value, changing nothing", async () => {
    const id = await subscribe(server, "http://127.0.0.1:9/hooks");
    await server.api("PUT", `/webhooks/${id}/headers`, { headers: { "X-Kept": "kept-value" } });
    for (const name of ["webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE", "Content-Type", "Host", "Content-Length", "Transfer-Encoding"]) {
      const response = await server.api("PUT", `/webhooks/${id}/headers`, { headers: { [name]: "x" } });
      assert.equal(response.status, 400, name);
      assert.match(response.body.error, /reserved|cannot be overridden/, name);
    }
    for (const name of ["Bad Name", "X-Ünicode", "X:Colon", ""]) {
      assert.equal((await server.api("PATCH", `/webhooks/${id}/headers`, { headers: { [name]: "x" } })).status, 400, JSON.stringify(name));
    }
    const secretish = "sk_live_do_not_echo";
    for (const value of [`${secretish}\r\nX-Injected: 1`, `${secretish}\nX-Injected: 1`, `${secretish}\u0000`]) {
      const response = await server.api("PATCH", `/webhooks/${id}/headers`, { headers: { Authorization: value } });
      assert.equal(response.status, 400);
      assert.ok(!JSON.stringify(response.body).includes(secretish), "the error does not echo the value");
    }
    const tooMany = Object.fromEntries(Array.from({ length: 21 }, (_, index) => [`X-H${index}`, "v"]));
    assert.equal((await server.api("PUT", `/webhooks/${id}/headers`, { headers: tooMany })).status, 400);
    assert.deepEqual((await server.api("GET", `/webhooks/${id}/headers`)).body, { headers: { "X-Kept": "****" } });
  });

  test("the sender never lets stored headers replace the signature headers or the content type", async (t) => {
    const receiver = await withReceiver(t);
    const id = await subscribe(server, receiver.url);
    // Written past the API's validation, as an older version or a manual edit might have stored them.
    await server.hookline.ctx.store.db
      .updateTable("consumers")
      .set({
        custom_headers: JSON.stringify({ "Content-Type": "text/plain", "Webhook-Signature": "v1,forged", "webhook-id": "msg_forged", "X-Fine": "yes" }),
      })
      .where("id", "=", asId<ConsumerId>(id))
      .execute();
    await server.api("POST", "/companies", { name: "Forged headers" });
    const [webhook] = await receiver.waitFor(1);
    assert.equal(webhook!.headers["content-type"], "application/json");
    assert.equal(webhook!.headers["x-fine"], "yes");
    assert.equal(webhook!.headers["webhook-id"], JSON.parse(webhook!.body).id);
    const secret = (await server.api("GET", `/webhooks/${id}/secret`)).body.key;
    new Webhook(secret).verify(webhook!.body, signatureHeadersOf(webhook!));
  });
});

describe("the webhooks CLI", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test("gets, updates, disables and enables a consumer, rotates its secret and manages its headers", async () => {
    const id = await subscribe(server, "http://127.0.0.1:9/hooks");
    const client = ["--client", server.clientId];
    const updated = JSON.parse(
      await cli(
        server,
        "webhooks",
        "update",
        id,
        ...client,
        "--rate-limit",
        "7",
        "--slow-concurrency",
        "3",
        "--description",
        "Ops",
        "--event-types",
        "company.created",
        "company.deleted",
      ),
    );
    assert.deepEqual(
      [updated.rateLimit, updated.slowConcurrency, updated.description, updated.eventTypes],
      [7, 3, "Ops", ["company.created", "company.deleted"]],
    );

    const headers = JSON.parse(await cli(server, "webhooks", "headers", "set", id, "Authorization: Bearer cli-token-1234", "X-Team: ops", ...client));
    assert.deepEqual(headers, { headers: { Authorization: "****1234", "X-Team": "****" } });
    assert.match(await cli(server, "webhooks", "headers", "remove", id, "x-team", ...client), /Removed/);
    assert.deepEqual(JSON.parse(await cli(server, "webhooks", "headers", "list", id, ...client, "--json")), { headers: { Authorization: "****1234" } });

    const oldSecret = (await server.api("GET", `/webhooks/${id}/secret`)).body.key;
    const newSecret = (await cli(server, "webhooks", "rotate-secret", id, ...client)).trim();
    assert.match(newSecret, /^whsec_/);
    assert.notEqual(newSecret, oldSecret);
    assert.equal((await server.api("GET", `/webhooks/${id}/secret`)).body.key, newSecret);

    assert.equal(JSON.parse(await cli(server, "webhooks", "disable", id, ...client)).disabled, true);
    const got = JSON.parse(await cli(server, "webhooks", "get", id, ...client));
    assert.deepEqual([got.id, got.disabled, got.rateLimit], [id, true, 7]);
    assert.equal((await server.api("GET", `/webhooks/${id}`)).body.disabled, true, "the API sees what the CLI did");
  });
});
