import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { cli } from "./support/cli.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { Receiver } from "./support/receiver.ts";
import { basicAuth, callApi, startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

let server: TestServer;
let receiver: Receiver;

/** Client B, made the way an operator makes one: through the CLI, against the running server's database. */
let clientB: { clientId: string; name: string; apiKeyId: string; apiKey: string };
const asB = <T = any>(method: string, path: string, body?: unknown) => callApi<T>(server.baseUrl, clientB.apiKey, method, path, body);

/** Client A's resources (A is the test server's own client). */
const a = { companyId: "", companyName: "Toft Stores", connectionId: "", webhookId: "", secret: "", apiKeyId: "" };

/** The CLI, for a command expected to fail: its exit code and what it printed on stderr. */
async function cliFailure(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await cli(server, ...args);
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
  throw new Error(`hookline ${args.join(" ")} was expected to fail but succeeded`);
}

before(async () => {
  server = await startTestServer();
  receiver = await Receiver.start();

  const company = await server.api("POST", "/companies", { name: a.companyName, tags: { region: "uk" } });
  assert.equal(company.status, 200);
  a.companyId = company.body.id;
  const connection = await server.api("POST", `/companies/${a.companyId}/connections`, { platformKey: "sand" });
  assert.equal(connection.status, 200);
  a.connectionId = connection.body.id;
  const consumer = await server.api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] });
  assert.equal(consumer.status, 201);
  a.webhookId = consumer.body.id;
  a.secret = (await server.api("GET", `/webhooks/${a.webhookId}/secret`)).body.key;
  a.apiKeyId = (await server.api("GET", "/apiKeys")).body.results[0].id;

  clientB = JSON.parse(await cli(server, "clients", "create", "Client B"));
});

after(async () => {
  await server.close();
  await receiver.close();
});

describe("the CLI manages clients and keys", () => {
  test("clients create prints a client whose key works at once", async () => {
    assert.equal(clientB.name, "Client B");
    assert.match(clientB.clientId, /^[0-9a-f-]{36}$/);
    const companies = await asB("GET", "/companies");
    assert.equal(companies.status, 200);
    assert.equal(companies.body.totalResults, 0, "a new client starts with no companies");
    const keys = await asB("GET", "/apiKeys");
    assert.deepEqual(
      keys.body.results.map((key: any) => [key.id, key.apiKey]),
      [[clientB.apiKeyId, `****${clientB.apiKey.slice(-4)}`]],
    );
  });

  test("keys create, list and revoke: a listed key shows only its last four characters, a revoked key gets 401", async () => {
    const created = JSON.parse(await cli(server, "keys", "create", "--client", clientB.clientId, "--name", "ci deploy"));
    assert.equal(created.name, "ci deploy");
    assert.ok(created.apiKey.length >= 32, "the full key is printed once, on creation");
    assert.equal((await callApi(server.baseUrl, created.apiKey, "GET", "/companies")).status, 200);

    const listing = await cli(server, "keys", "list", "--client", clientB.clientId, "--json");
    const listed: Array<{ id: string; name: string | null; apiKey: string }> = JSON.parse(listing);
    assert.deepEqual(listed.map((key) => key.id).sort(), [clientB.apiKeyId, created.id].sort());
    for (const key of listed) assert.match(key.apiKey, /^\*{4}.{4}$/);
    assert.equal(listed.find((key) => key.id === created.id)!.apiKey, `****${created.apiKey.slice(-4)}`);
    assert.ok(!listing.includes(created.apiKey) && !listing.includes(clientB.apiKey), "keys list never prints a full key");
    const table = await cli(server, "keys", "list", "--client", clientB.clientId);
    const row = table.split("\n").find((line) => line.startsWith(created.id)) ?? "";
    assert.match(row, / +ci deploy +\*{4}\S{4} /, "the table shows the key's name and its masked key");
    assert.ok(row.includes(`****${created.apiKey.slice(-4)}`));
    assert.ok(!table.includes(created.apiKey) && !table.includes(clientB.apiKey), "nor does its table");

    // Client A's operator cannot revoke B's key by naming it under A.
    const foreign = await cliFailure("keys", "revoke", created.id, "--client", server.clientId);
    assert.notEqual(foreign.code, 0);
    assert.match(foreign.stderr, /API key not found/);
    assert.equal((await callApi(server.baseUrl, created.apiKey, "GET", "/companies")).status, 200, "still valid after the refused revoke");

    assert.match(await cli(server, "keys", "revoke", created.id, "--client", clientB.clientId), new RegExp(`Revoked ${created.id}`));
    assertErrorMessage(await callApi(server.baseUrl, created.apiKey, "GET", "/companies"), 401, "revoked key");
    assert.equal((await asB("GET", "/companies")).status, 200, "B's other key is untouched");
    assert.deepEqual(
      JSON.parse(await cli(server, "keys", "list", "--client", clientB.clientId, "--json")).map((key: any) => key.id),
      [clientB.apiKeyId],
    );
  });

  test("keys create for an unknown client fails without making a key", async () => {
    const unknown = "00000000-0000-4000-8000-000000000000";
    const failure = await cliFailure("keys", "create", "--client", unknown);
    assert.notEqual(failure.code, 0);
    assert.match(failure.stderr, /Client not found/);
    assert.deepEqual(JSON.parse(await cli(server, "keys", "list", "--client", unknown, "--json")), []);
  });
});

describe("one client cannot see or touch another's resources", () => {
  test("A's company, connection, webhook consumer and API key ids answer 404 to B", async () => {
    const companyPath = `/companies/${a.companyId}`;
    const connectionPath = `${companyPath}/connections/${a.connectionId}`;
    const attempts: Array<[string, string, unknown?]> = [
      ["GET", companyPath],
      ["PUT", companyPath, { name: "Taken over" }],
      ["PATCH", companyPath, { name: "Taken over", tags: { region: "b" } }],
      ["DELETE", companyPath],
      ["GET", `${companyPath}/connections`],
      ["POST", `${companyPath}/connections`, { platformKey: "sand" }],
      ["GET", connectionPath],
      ["PATCH", connectionPath, { status: "Unlinked" }],
      ["PUT", `${connectionPath}/authorization`, { username: "sandbox", password: "sandbox-password" }],
      ["DELETE", connectionPath],
      ["GET", `/webhooks/${a.webhookId}`],
      ["GET", `/webhooks/${a.webhookId}/secret`],
      ["DELETE", `/webhooks/${a.webhookId}`],
      ["DELETE", `/apiKeys/${a.apiKeyId}`],
    ];
    for (const [method, path, body] of attempts) {
      const response = await asB(method, path, body);
      assertErrorMessage(response, 404, `B ${method} ${path}`);
      const text = JSON.stringify(response.body);
      assert.ok(!text.includes(a.companyName) && !text.includes(a.secret), `B ${method} ${path} tells nothing of A's resource`);
    }

    // Nor does B reach A's connection through a company of B's own.
    const own = await asB("POST", "/companies", { name: "Bee Holdings" });
    assert.equal(own.status, 200);
    assertErrorMessage(await asB("GET", `/companies/${own.body.id}/connections/${a.connectionId}`), 404, "A's connection under B's company");
    assertErrorMessage(await asB("DELETE", `/companies/${own.body.id}/connections/${a.connectionId}`), 404, "deleting A's connection under B's company");
  });

  test("everything B tried left A's resources as they were", async () => {
    const company = await server.api("GET", `/companies/${a.companyId}`);
    assert.equal(company.status, 200);
    assert.equal(company.body.name, a.companyName);
    assert.deepEqual(company.body.tags, { region: "uk" });
    assert.deepEqual(
      company.body.dataConnections.map((connection: any) => [connection.id, connection.status]),
      [[a.connectionId, "PendingAuth"]],
    );
    assert.equal((await server.api("GET", `/webhooks/${a.webhookId}/secret`)).body.key, a.secret);
    assert.deepEqual(
      (await server.api("GET", "/webhooks")).body.results.map((consumer: any) => consumer.id),
      [a.webhookId],
    );
    assert.equal((await server.api("GET", "/companies")).status, 200, "A's key was not revoked by B");
  });

  test("lists show each client only its own resources", async () => {
    assert.equal((await asB("POST", "/companies", { name: "Bee Own Ltd" })).status, 200);
    const bCompanies = await asB("GET", "/companies");
    assert.ok(bCompanies.body.results.length > 0, "B has a company of its own");
    assert.ok(bCompanies.body.results.every((company: any) => company.id !== a.companyId && company.name !== a.companyName));
    assert.equal(bCompanies.body.totalResults, bCompanies.body.results.length);
    assert.equal((await asB("GET", `/companies?query=${encodeURIComponent(`name=${a.companyName}`)}`)).body.totalResults, 0);
    assert.equal((await asB("GET", "/companies?query=region%3Duk")).body.totalResults, 0, "A's tags do not match B's query");
    assert.deepEqual((await asB("GET", "/webhooks")).body.results, []);
    assert.ok((await asB("GET", "/apiKeys")).body.results.every((key: any) => key.id !== a.apiKeyId));

    const aCompanies = await server.api("GET", "/companies");
    assert.deepEqual(
      aCompanies.body.results.map((company: any) => company.id),
      [a.companyId],
      "A does not see B's companies either",
    );
    assert.ok((await server.api("GET", "/apiKeys")).body.results.every((key: any) => key.id !== clientB.apiKeyId));
  });

  test("A's webhook consumer hears A's events and none of B's", async () => {
    const bCompany = await asB("POST", "/companies", { name: "Bee Secret Project" });
    assert.equal(bCompany.status, 200);
    const aCompany = await server.api("POST", "/companies", { name: "Toft Marker" });
    assert.equal(aCompany.status, 200);
    // B's company was created first, so had it been routed to A's consumer it would be among what arrived by now.
    await until("A's marker company to reach A's consumer", async () => receiver.events().some((event) => event.payload.id === aCompany.body.id));
    const companies = receiver.events().map((event) => event.payload.id);
    assert.ok(!companies.includes(bCompany.body.id), "B's company.created never reached A's consumer");
    assert.ok(!receiver.received.some((webhook) => webhook.body.includes("Bee Secret Project")));
  });
});

describe("requests without a valid API key", () => {
  const wrongKey = "hk_wrong_key_0123456789abcdefghijklmnop";
  /** Each way of failing to authenticate, with what the response must not repeat back. */
  const attempts = (): Array<{ label: string; authorization?: string; mustNotEcho: string[] }> => [
    { label: "no Authorization header", mustNotEcho: [] },
    { label: "an unknown key", authorization: basicAuth(wrongKey), mustNotEcho: [wrongKey, basicAuth(wrongKey)] },
    { label: "a real key with a character added", authorization: basicAuth(`${server.apiKey}x`), mustNotEcho: [server.apiKey, basicAuth(`${server.apiKey}x`)] },
    { label: "Basic !!!", authorization: "Basic !!!", mustNotEcho: ["!!!"] },
    { label: "Bearer x", authorization: "Bearer x", mustNotEcho: ["Bearer x"] },
    { label: "a real key sent as Bearer", authorization: `Bearer ${server.apiKey}`, mustNotEcho: [server.apiKey] },
    { label: "Basic with nothing after it", authorization: "Basic ", mustNotEcho: [] },
    { label: "Basic of an empty key", authorization: basicAuth(""), mustNotEcho: [] },
  ];
  const requests = (): Array<[string, string, unknown?]> => [
    ["GET", "/companies"],
    ["POST", "/companies", { name: "Intruder" }],
    ["GET", `/companies/${a.companyId}`],
    ["GET", `/webhooks/${a.webhookId}/secret`],
    ["GET", "/apiKeys"],
    ["POST", "/apiKeys", { name: "intruder" }],
  ];

  test("get 401 in Codat's ErrorMessage shape that never echoes what was sent", async () => {
    const companiesBefore = (await server.api("GET", "/companies")).body.totalResults;
    const keysBefore = (await server.api("GET", "/apiKeys")).body.results.length;
    for (const { label, authorization, mustNotEcho } of attempts()) {
      for (const [method, path, body] of requests()) {
        const headers: Record<string, string> = body === undefined ? {} : { "content-type": "application/json" };
        if (authorization !== undefined) headers.authorization = authorization;
        const response = await fetch(`${server.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await response.text();
        const context = `${label}: ${method} ${path}`;
        assertErrorMessage({ status: response.status, body: JSON.parse(text), headers: response.headers }, 401, context);
        assert.match(JSON.parse(text).error, /send "Authorization: Basic <base64 of the API key>"/, `${context}: the 401 says how to send the key`);
        for (const secret of mustNotEcho) assert.ok(!text.includes(secret), `${context}: the response does not echo ${JSON.stringify(secret)}`);
        assert.ok(!text.includes(a.secret) && !text.includes(a.companyName), `${context}: nothing of A leaks`);
      }
    }
    assert.equal((await server.api("GET", "/companies")).body.totalResults, companiesBefore, "no unauthenticated POST created a company");
    assert.equal((await server.api("GET", "/apiKeys")).body.results.length, keysBefore, "nor an API key");
    assert.ok(!server.logs().includes(wrongKey), "the wrong key is not logged either");
  });
});

describe("the API keys endpoints", () => {
  test("POST /apiKeys shows the full key once; GET /apiKeys lists it masked; DELETE revokes it", async () => {
    const created = await server.api("POST", "/apiKeys", { name: "rotation" });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, "rotation");
    assert.match(created.body.id, /^[0-9a-f-]{36}$/);
    assert.ok(typeof created.body.apiKey === "string" && created.body.apiKey.length >= 32);
    assert.ok(!Number.isNaN(Date.parse(created.body.createdDate)));
    const newKey: string = created.body.apiKey;
    assert.equal((await callApi(server.baseUrl, newKey, "GET", "/companies")).status, 200, "the new key works at once");

    const listed = await server.api("GET", "/apiKeys");
    assert.equal(listed.status, 200);
    assert.ok(!JSON.stringify(listed.body).includes(newKey) && !JSON.stringify(listed.body).includes(server.apiKey), "no full key is ever listed");
    for (const key of listed.body.results) assert.match(key.apiKey, /^\*{4}.{4}$/);
    const entry = listed.body.results.find((key: any) => key.id === created.body.id);
    assert.deepEqual(entry, { id: created.body.id, name: "rotation", apiKey: `****${newKey.slice(-4)}`, createdDate: created.body.createdDate });

    const deleted = await callApi(server.baseUrl, newKey, "DELETE", `/apiKeys/${created.body.id}`);
    assert.equal(deleted.status, 204, "a key may revoke itself");
    assertErrorMessage(await callApi(server.baseUrl, newKey, "GET", "/companies"), 401, "deleted key");
    assert.equal((await server.api("GET", "/companies")).status, 200, "the other key is untouched");
    assert.ok((await server.api("GET", "/apiKeys")).body.results.every((key: any) => key.id !== created.body.id));
    assertErrorMessage(await server.api("DELETE", `/apiKeys/${created.body.id}`), 404, "deleting it again");
  });

  test("POST /apiKeys without a body makes an unnamed key", async () => {
    const response = await fetch(`${server.baseUrl}/apiKeys`, { method: "POST", headers: { authorization: basicAuth(server.apiKey) } });
    assert.equal(response.status, 201);
    const created = (await response.json()) as { id: string; name: string | null; apiKey: string };
    assert.equal(created.name, null);
    assert.equal((await server.api("DELETE", `/apiKeys/${created.id}`)).status, 204);
  });

  test("a foreign or unknown key id is 404 and deletes nothing", async () => {
    assertErrorMessage(await server.api("DELETE", `/apiKeys/${clientB.apiKeyId}`), 404, "A deleting B's key");
    assertErrorMessage(await server.api("DELETE", "/apiKeys/6f1c1f57-3a52-4f5e-9a43-0c1d2e3f4a5b"), 404, "unknown key id");
    assertErrorMessage(await server.api("DELETE", "/apiKeys/not-a-key-id"), 400, "malformed key id");
    assert.equal((await asB("GET", "/companies")).status, 200, "B's key still works");
  });
});
