import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SANDBOX_CREDENTIALS } from "../src/integrations/sandbox/sandbox.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

/**
 * The official Codat SDK (`@codat/platform`) pointed at Hookline. The SDK
 * validates every response against its models, so a wrong status code or
 * shape fails here the way it would for a client.
 */
let server: TestServer;
let receiver: Receiver;
before(async () => {
  server = await startTestServer();
  receiver = await Receiver.start();
});
after(async () => {
  await server.close();
  await receiver.close();
});

describe("companies", () => {
  test("create, get, replace, update, list and delete with tags", async () => {
    const { sdk } = server;
    const created = await sdk.companies.create({ name: "Toft stores", description: "Retail", tags: { region: "us", uid: "335a086e" } });
    assert.match(created.id, /^[0-9a-f-]{36}$/);
    assert.equal(created.name, "Toft stores");
    assert.equal(created.description, "Retail");
    assert.deepEqual(created.tags, { region: "us", uid: "335a086e" });
    assert.equal(created.redirect, `${server.baseUrl}/link/companies/${created.id}`);
    assert.deepEqual(created.dataConnections, []);

    const fetched = await sdk.companies.get({ companyId: created.id });
    assert.deepEqual(fetched, created);

    const replaced = await sdk.companies.replace({ companyId: created.id, companyRequestBody: { name: "Toft stores UK", tags: { region: "uk" } } });
    assert.equal(replaced.name, "Toft stores UK");
    assert.deepEqual(replaced.tags, { region: "uk" });
    assert.equal(replaced.description, undefined, "replace clears what it is not given");

    const updated = await sdk.companies.update({ companyId: created.id, companyUpdateRequest: { description: "Now in the UK" } });
    assert.equal(updated.name, "Toft stores UK", "update keeps what it is not given");
    assert.equal(updated.description, "Now in the UK");
    assert.deepEqual(updated.tags, { region: "uk" });

    await sdk.companies.delete({ companyId: created.id });
    await assert.rejects(sdk.companies.get({ companyId: created.id }), (error: { statusCode?: number }) => error.statusCode === 404);
  });

  test("list pages, filters by tag query and orders", async () => {
    const { sdk } = server;
    for (let index = 1; index <= 5; index++) {
      await sdk.companies.create({ name: `Paged ${index}`, tags: { batch: "paging", parity: index % 2 === 0 ? "even" : "odd" } });
    }
    const first = await sdk.companies.list({ page: 1, pageSize: 2, query: "batch = paging", orderBy: "name" });
    assert.equal(first.totalResults, 5);
    assert.equal(first.pageNumber, 1);
    assert.equal(first.pageSize, 2);
    assert.deepEqual(
      first.results?.map((company) => company.name),
      ["Paged 1", "Paged 2"],
    );
    assert.ok(first.links.next?.href?.includes("page=2"));
    assert.equal(first.links.previous, undefined);

    const last = await sdk.companies.list({ page: 3, pageSize: 2, query: "batch = paging", orderBy: "name" });
    assert.deepEqual(
      last.results?.map((company) => company.name),
      ["Paged 5"],
    );
    assert.equal(last.links.next, undefined);
    assert.ok(last.links.previous?.href?.includes("page=2"));

    const even = await sdk.companies.list({ query: "batch = paging && parity = even", orderBy: "-name" });
    assert.deepEqual(
      even.results?.map((company) => company.name),
      ["Paged 4", "Paged 2"],
    );
    const notOdd = await sdk.companies.list({ query: "batch = paging && parity != odd" });
    assert.equal(notOdd.totalResults, 2);
    await sdk.companies.create({ name: "Paged, no parity", tags: { batch: "paging" } });
    const withoutTheTag = await sdk.companies.list({ query: "batch = paging && parity != odd", orderBy: "name" });
    assert.deepEqual(
      withoutTheTag.results?.map((company) => company.name),
      ["Paged 2", "Paged 4", "Paged, no parity"],
      "!= includes companies without the tag",
    );
    const contains = await sdk.companies.list({ query: "name ~ Paged && parity = odd" });
    assert.equal(contains.totalResults, 3);
    const ignoringCase = await sdk.companies.list({ query: "name ~ PAGED && parity = odd" });
    assert.equal(ignoringCase.totalResults, 3, "contains ignores case on both databases");
    await sdk.companies.create({ name: "Discounted", tags: { offer: "50% off_today" } });
    await sdk.companies.create({ name: "Discounted too", tags: { offer: "500 off today" } });
    const literal = await sdk.companies.list({ query: "offer ~ 0% off_" });
    assert.deepEqual(
      literal.results?.map((company) => company.name),
      ["Discounted"],
      "% and _ are matched literally",
    );
  });
});

describe("integrations", () => {
  test("list and get the sandbox integration with Codat-shaped identifiers", async () => {
    const list = await server.sdk.integrations.list({});
    const sandbox = list.results?.find((integration) => integration.key === "sand");
    assert.ok(sandbox, "the sandbox integration is listed");
    assert.match(sandbox.key, /^[a-z]{4}$/);
    assert.match(sandbox.sourceId ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(sandbox.integrationId ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(await server.sdk.integrations.get({ platformKey: "sand" }), sandbox);
    const banking = await server.sdk.integrations.list({ query: "sourceType = Banking" });
    assert.ok(banking.results?.some((integration) => integration.key === "sand"));
    await assert.rejects(server.sdk.integrations.get({ platformKey: "zzzz" }), (error: { statusCode?: number }) => error.statusCode === 404);
  });
});

describe("connections", () => {
  test("create, list, get, authorize, unlink and delete a sandbox connection", async () => {
    const { sdk } = server;
    const company = await sdk.companies.create({ name: "Connected Co" });
    const connection = await sdk.connections.create({ companyId: company.id, requestBody: { platformKey: "sand" } });
    assert.equal(connection.status, "PendingAuth");
    assert.equal(connection.integrationKey, "sand");
    assert.equal(connection.linkUrl, `${server.baseUrl}/link/companies/${company.id}/connections/${connection.id}/start`);
    assert.deepEqual(connection.dataConnectionErrors, []);

    const list = await sdk.connections.list({ companyId: company.id });
    assert.equal(list.totalResults, 1);
    assert.deepEqual(list.results?.[0], connection);
    assert.deepEqual((await sdk.companies.get({ companyId: company.id })).dataConnections, [connection]);

    const rejected = await sdk.connections.updateAuthorization({
      companyId: company.id,
      connectionId: connection.id,
      requestBody: { username: "sandbox", password: "wrong" },
    });
    assert.equal(rejected.status, "PendingAuth");
    assert.equal(rejected.dataConnectionErrors?.[0]?.statusCode, "401");
    assert.equal(rejected.dataConnectionErrors?.[0]?.status, "Active");

    const linked = await sdk.connections.updateAuthorization({ companyId: company.id, connectionId: connection.id, requestBody: { ...SANDBOX_CREDENTIALS } });
    assert.equal(linked.status, "Linked");
    assert.equal(linked.dataConnectionErrors?.[0]?.status, "Resolved");
    assert.ok(linked.dataConnectionErrors?.[0]?.resolvedOnUtc);

    const unlinked = await sdk.connections.unlink({ companyId: company.id, connectionId: connection.id, updateConnectionStatus: { status: "Unlinked" } });
    assert.equal(unlinked.status, "Unlinked");
    assert.equal((await sdk.connections.get({ companyId: company.id, connectionId: connection.id })).status, "Unlinked");

    const linkedOnly = await sdk.connections.list({ companyId: company.id, query: "status = Linked" });
    assert.equal(linkedOnly.totalResults, 0);

    await sdk.connections.delete({ companyId: company.id, connectionId: connection.id });
    await assert.rejects(
      sdk.connections.get({ companyId: company.id, connectionId: connection.id }),
      (error: { statusCode?: number }) => error.statusCode === 404,
    );
  });

  test("an unknown platform key is refused and creates nothing", async () => {
    const company = await server.sdk.companies.create({ name: "No such platform" });
    await assert.rejects(
      server.sdk.connections.create({ companyId: company.id, requestBody: { platformKey: "abcd" } }),
      (error: { statusCode?: number }) => error.statusCode === 404,
    );
    assert.equal((await server.sdk.connections.list({ companyId: company.id })).totalResults, 0);
  });
});

describe("webhook consumers", () => {
  test("create, list and delete consumers", async () => {
    const { sdk } = server;
    const consumer = await sdk.webhooks.createConsumer({
      url: receiver.url,
      eventTypes: ["connection.failed", "company.created"],
      companyTags: ["region:us"],
      disabled: false,
    });
    assert.equal(consumer.url, receiver.url);
    assert.deepEqual(consumer.eventTypes, ["connection.failed", "company.created"]);
    assert.deepEqual(consumer.companyTags, ["region:us"]);
    assert.equal(consumer.disabled, false);
    const listed = await sdk.webhooks.listConsumers();
    assert.ok(listed.results?.some((candidate) => candidate.id === consumer.id));
    await sdk.webhooks.deleteConsumer({ webhookId: consumer.id! });
    assert.ok(!(await sdk.webhooks.listConsumers()).results?.some((candidate) => candidate.id === consumer.id));
  });
});

describe("API keys", () => {
  test("create and list keys through the SDK; delete answers the document's 204", async () => {
    const created = await server.sdk.settings.createApiKey({ name: "ci" });
    assert.ok(created.apiKey && created.apiKey.length > 20);
    const listed = await server.sdk.settings.listApiKeys();
    const entry = listed.results?.find((key) => key?.id === created.id);
    assert.ok(entry);
    assert.notEqual(entry.apiKey, created.apiKey, "listing never shows a whole key");
    // The document's 204 for delete-api-key points at a JSON error body, which no 204 can carry, so the
    // SDK's deleteApiKey cannot parse any successful answer; the operation is checked over plain HTTP.
    assert.equal((await server.api("DELETE", `/apiKeys/${created.id}`)).status, 204);
    assert.ok(!(await server.sdk.settings.listApiKeys()).results?.some((key) => key?.id === created.id));
  });
});

describe("status codes are exactly the document's", () => {
  test("each operation answers the code its OpenAPI entry declares", async () => {
    const { api } = server;
    const company = await api("POST", "/companies", { name: "Codes" });
    assert.equal(company.status, 200, "create-company");
    const connection = await api("POST", `/companies/${company.body.id}/connections`, { platformKey: "sand" });
    assert.equal(connection.status, 200, "create-connection");
    const consumer = await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] });
    assert.equal(consumer.status, 201, "create-webhook-consumer");
    const secret = await api("GET", `/webhooks/${consumer.body.id}/secret`);
    assert.equal(secret.status, 200);
    assert.match(secret.body.key, /^whsec_[A-Za-z0-9+/=]+$/);
    assert.equal((await api("DELETE", `/webhooks/${consumer.body.id}`)).status, 204, "delete-webhook-consumer");
    const deletedConnection = await api("DELETE", `/companies/${company.body.id}/connections/${connection.body.id}`);
    assert.equal(deletedConnection.status, 200, "delete-connection");
    assert.equal((await api("DELETE", `/companies/${company.body.id}`)).status, 204, "delete-company");
    assert.equal((await api("POST", "/apiKeys", { name: "codes" })).status, 201, "create-api-key");
  });
});

describe("JSON bodies are validated as sent", () => {
  test("a value of the wrong type is a 400, not converted, and creates nothing", async () => {
    const before = (await server.api("GET", "/companies?pageSize=1")).body.totalResults;
    const numberName = await server.api("POST", "/companies", { name: 5 });
    assert.equal(numberName.status, 400);
    assert.equal(numberName.body.validation.errors[0].itemId, "body/name");
    const stringList = await server.api("POST", "/webhooks", { url: receiver.url, eventTypes: "company.created" });
    assert.equal(stringList.status, 400, "a string is not a list of event types");
    assert.equal((await server.api("GET", "/companies?pageSize=1")).body.totalResults, before);
  });

  test("malformed JSON is a 400 that does not quote the body back", async () => {
    const response = await server.api("POST", "/companies", '{"name": "Leaky", "tags": {"token": sk_live_0123456789');
    assertErrorMessage(response, 400, "malformed JSON", /^The body is not valid JSON$/);
    assert.ok(!JSON.stringify(response.body).includes("sk_live"), "the answer does not echo the body");
  });

  test("JSON nested deeper than any payload needs is a 400, not a crash", async () => {
    const deep = `${"[".repeat(5000)}${"]".repeat(5000)}`;
    const response = await server.api("POST", "/companies", `{"name": "Deep", "tags": {}, "description": "x", "extra": ${deep}}`);
    assertErrorMessage(response, 400, "deeply nested JSON", /nest deeper/);
  });

  test("query strings are still read as the numbers their schemas name", async () => {
    const page = await server.api("GET", "/companies?page=1&pageSize=2");
    assert.equal(page.status, 200);
    assert.equal(page.body.pageSize, 2);
  });
});
