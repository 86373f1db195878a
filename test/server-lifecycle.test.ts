import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { CLI } from "./support/cli.ts";
import { resolvePointer } from "./support/json-schema-arbitrary.ts";
import { API_KEY_LINE, firstStart, Harness } from "./support/serve-process.ts";
import { callApi } from "./support/server.ts";
import { until } from "./support/wait.ts";

test("the first start creates a client and prints the API URL, the OpenAPI URL and a working API key, apart from the JSON logs", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  // At info, requests are logged too: the key must not be in any of those lines either.
  const { server: first, api, apiKey } = await firstStart(harness, database.url, { env: { HOOKLINE_LOG_LEVEL: "info" } });
  const { stdout, stderr } = first.streams();
  assert.match(stderr, new RegExp(`-{72}\nHookline API: +${first.baseUrl}\nOpenAPI document: +${first.baseUrl}/openapi.json\n`));
  assert.match(stderr, new RegExp(`API key \\(shown once[^)]*\\): ${apiKey}\n-{72}\n`), "the key ends a block of its own on standard error");
  assert.equal((await api("GET", "/companies")).status, 200);
  const logLines = first.streams().stdout.split("\n").filter(Boolean);
  assert.ok(logLines.length > 0, "the server logged on standard output");
  for (const line of logLines) {
    assert.doesNotThrow(() => JSON.parse(line), `standard output holds only JSON log lines: ${line}`);
    assert.ok(!line.includes(apiKey), "no log line holds the API key");
  }
  assert.ok(!stdout.includes("Hookline API"));

  const document = (await callApi(first.baseUrl, null, "GET", "/openapi.json")).body;
  assert.equal(document.servers[0].url, first.baseUrl);
  const operations = Object.values(document.paths).flatMap((item: any) => Object.values(item).map((operation: any) => operation.operationId));
  for (const operationId of [
    "list-companies",
    "create-company",
    "delete-company",
    "create-connection",
    "unlink-connection",
    "update-connection-authorization",
    "list-integrations",
    "create-webhook-consumer",
    "delete-api-key",
    "get-webhook-consumer-secret",
  ]) {
    assert.ok(operations.includes(operationId), `${operationId} is documented`);
  }
  assert.ok(!operations.includes("get-company-access-token"), "operations Hookline does not implement are left out");
  assert.equal(
    Object.keys(document.webhooks).length,
    20,
    "the 16 event types of the Codat document and Hookline's own webhook.consumer.disabled, connection.link.reminder and connection.insight.alert/resolved",
  );
  const refs = JSON.stringify(document).match(/"\$ref":"#[^"]*"/g) ?? [];
  const unresolved = refs.map((ref) => ref.slice(8, -1)).filter((ref) => resolvePointer(document, ref) === undefined);
  assert.deepEqual([...new Set(unresolved)], [], "every $ref of the served document resolves within it");

  assert.deepEqual(await first.stop(), { code: 0, signal: null });
  const second = await harness.serve(database.url);
  assert.deepEqual(await second.stop(), { code: 0, signal: null });
  assert.doesNotMatch(second.logs(), API_KEY_LINE, "a restart creates no second client");
});

function stopsListening(baseUrl: string): Promise<true | string> {
  return until("the API to stop listening after SIGTERM", () =>
    fetch(`${baseUrl}/healthz`).then(
      () => "still listening",
      () => true as const,
    ),
  );
}

test("SIGTERM lets an attempt in flight finish and records it before the process exits", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const receiver = await harness.receiver();
  let release: () => void = () => undefined;
  receiver.respond = (_index, _webhook, response) => {
    release = () => response.writeHead(200).end("finished");
  };
  const { server, api } = await firstStart(harness, database.url);
  assert.equal((await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] })).status, 201);
  assert.equal((await api("POST", "/companies", { name: "In flight" })).status, 200);
  await receiver.waitFor(1);

  const stopped = server.stop();
  // The receiver answers only once the shutdown has begun (the API stopped listening); the worker must still wait for it and record it.
  await stopsListening(server.baseUrl);
  assert.ok(server.running, "the process waits for the attempt in flight");
  release();
  assert.deepEqual(await stopped, { code: 0, signal: null });

  const store = await harness.store(database.url);
  const attempts = await store.db.selectFrom("attempts").select(["status_code", "succeeded", "response_excerpt"]).execute();
  assert.deepEqual(attempts, [{ status_code: 200, succeeded: 1, response_excerpt: "finished" }]);
  const deliveries = await store.db.selectFrom("deliveries").select(["status", "lease_owner"]).execute();
  assert.deepEqual(deliveries, [{ status: "Success", lease_owner: null }]);
});

test("npm run demo shows a verified connection.failed webhook", async () => {
  const child = spawn(process.execPath, [CLI, "demo"], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const [code] = await once(child, "exit");
  assert.equal(code, 0, output);
  assert.match(output, /"eventType": "connection.failed"/);
  assert.match(output, /"statusText": "User cancelled linking"/);
  assert.match(output, /webhook-signature: v1,/);
  assert.match(output, /Signature verified/);
});
