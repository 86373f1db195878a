import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { CLIENT_TYPES_FILE, clientTypes } from "../scripts/generate-client.ts";
import { createHooklineClient, type HooklineClient } from "../src/client/index.ts";
import { createCompany } from "./support/messages.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

describe("hookline/client, the typed client of Hookline's own endpoints", () => {
  let server: TestServer;
  let receiver: Receiver;
  let client: HooklineClient;
  let healthy = false;
  before(async () => {
    server = await startTestServer({ retrySchedule: "1h" });
    receiver = await Receiver.start((_index, _webhook, response) => response.writeHead(healthy ? 204 : 503).end());
    client = createHooklineClient({ baseUrl: server.baseUrl, apiKey: server.apiKey });
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test("is what the package exports as hookline/client, and its types are those of the served document", async () => {
    assert.equal(fileURLToPath(import.meta.resolve("hookline/client")), fileURLToPath(new URL("../dist/client/index.js", import.meta.url)));
    assert.equal(readFileSync(CLIENT_TYPES_FILE, "utf8"), await clientTypes(), "src/client/schema.d.ts is up to date: run `npm run gen:client`");
  });

  test("creates a consumer, reads its secret and headers, sends an example, lists messages and attempts, and retries now", async () => {
    const created = await client.POST("/webhooks", { body: { url: receiver.url, eventTypes: ["company.created", "connection.failed"] } });
    assert.equal(created.response.status, 201);
    const webhookId = created.data!.id!;
    const secret = await client.GET("/webhooks/{webhookId}/secret", { params: { path: { webhookId } } });
    assert.match(secret.data!.key, /^whsec_/);
    const headers = await client.PUT("/webhooks/{webhookId}/headers", {
      params: { path: { webhookId } },
      body: { headers: { "X-Team": "billing-team-1234" } },
    });
    assert.deepEqual(headers.data, { headers: { "X-Team": "****1234" } });

    const example = await client.POST("/webhooks/{webhookId}/examples", { params: { path: { webhookId } }, body: { eventType: "connection.failed" } });
    assert.equal(example.response.status, 202);
    await createCompany(server, "Typed");
    await until(
      "both first attempts failed",
      async () => (await client.GET("/webhooks/{webhookId}/messages", { params: { path: { webhookId }, query: { status: "Attempting" } } })).data!.results,
      (results) => results.length === 2,
    );
    const attempts = await client.GET("/messages/{messageId}/attempts", { params: { path: { messageId: example.data!.id } } });
    assert.equal(attempts.data!.results[0]!.statusCode, 503);

    healthy = true;
    const retried = await client.POST("/webhooks/{webhookId}/retry-now", { params: { path: { webhookId } } });
    assert.equal(retried.data!.scheduled, 2);
    await until(
      "both delivered",
      async () => (await client.GET("/webhooks/{webhookId}/messages", { params: { path: { webhookId }, query: { status: "Success" } } })).data!.results,
      (results) => results.length === 2,
    );
  });

  test("answers errors in Codat's ErrorMessage shape", async () => {
    const missing = await client.POST("/webhooks/{webhookId}/retry-now", { params: { path: { webhookId: "00000000-0000-4000-8000-000000000000" } } });
    assert.equal(missing.response.status, 404);
    assert.match(missing.error!.error!, /not found/);
    const wrongKey = createHooklineClient({ baseUrl: server.baseUrl, apiKey: "not-a-key" });
    const refused = await wrongKey.GET("/messages", {});
    assert.equal(refused.response.status, 401);
    assert.match(refused.error!.error!, /Authorization: Basic <base64 of the API key>/);
  });
});
