import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, test } from "node:test";
import { Store } from "../src/storage/database.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { Receiver } from "./support/receiver.ts";
import { callApi, freePort } from "./support/server.ts";

const cleanups: Array<() => Promise<unknown> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Runs `hookline serve` as a user would and collects what it prints. */
async function serve(database: TestDatabase, env: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "--database-url", database.url, "serve", "--port", String(port)], {
    env: { ...process.env, HOOKLINE_LOG_LEVEL: "warn", HOOKLINE_ALLOWED_CIDRS: "127.0.0.0/8", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  cleanups.push(() => void child.kill("SIGKILL"));
  let stdout = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForOutput(child, () => stdout.includes("OpenAPI document:") && (stdout.includes("API key") || !env.EXPECT_KEY));
  return { child, baseUrl, stdout: () => stdout };
}

async function waitForOutput(child: ChildProcess, ready: () => boolean): Promise<void> {
  while (!ready()) {
    const [event] = await Promise.race([once(child.stdout!, "data").then(() => ["data"]), once(child, "exit").then(() => ["exit"])]);
    if (event === "exit") throw new Error("hookline serve exited before it was ready");
  }
}

test("the first start creates a client and prints the API URL, the OpenAPI URL and a working API key", async () => {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  const first = await serve(database, { EXPECT_KEY: "1" });
  const output = first.stdout();
  assert.match(output, new RegExp(`Hookline API: +${first.baseUrl}`));
  assert.match(output, new RegExp(`OpenAPI document: +${first.baseUrl}/openapi.json`));
  const apiKey = /API key \(shown once[^)]*\): (\S+)/.exec(output)?.[1];
  assert.ok(apiKey, output);
  assert.equal((await callApi(first.baseUrl, apiKey, "GET", "/companies")).status, 200);

  const document = (await callApi(first.baseUrl, null, "GET", "/openapi.json")).body;
  assert.equal(document.servers[0].url, first.baseUrl);
  const operations = Object.values(document.paths).flatMap((item: any) => Object.values(item).map((operation: any) => operation.operationId));
  for (const operationId of ["list-companies", "create-company", "delete-company", "create-connection", "unlink-connection", "update-connection-authorization", "list-integrations", "create-webhook-consumer", "delete-api-key", "get-webhook-consumer-secret"]) {
    assert.ok(operations.includes(operationId), `${operationId} is documented`);
  }
  assert.ok(!operations.includes("get-company-access-token"), "operations Hookline does not implement are left out");
  assert.equal(Object.keys(document.webhooks).length, 16);

  first.child.kill("SIGTERM");
  assert.deepEqual(await once(first.child, "exit"), [0, null]);
  const second = await serve(database);
  assert.doesNotMatch(second.stdout(), /API key/, "a restart creates no second client");
  second.child.kill("SIGTERM");
  await once(second.child, "exit");
});

async function stopsListening(baseUrl: string): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    const listening = await fetch(`${baseUrl}/healthz`).then(() => true, () => false);
    if (!listening) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("the API kept listening after SIGTERM");
}

test("SIGTERM lets an attempt in flight finish and records it before the process exits", async () => {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  let release: () => void = () => undefined;
  const receiver = await Receiver.start((_index, _webhook, response) => {
    release = () => response.writeHead(200).end("finished");
  });
  cleanups.push(() => receiver.close());
  const server = await serve(database, { EXPECT_KEY: "1" });
  const apiKey = /API key \(shown once[^)]*\): (\S+)/.exec(server.stdout())![1]!;
  assert.equal((await callApi(server.baseUrl, apiKey, "POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] })).status, 201);
  assert.equal((await callApi(server.baseUrl, apiKey, "POST", "/companies", { name: "In flight" })).status, 200);
  await receiver.waitFor(1);

  server.child.kill("SIGTERM");
  // The receiver answers only once the shutdown has begun (the API stopped listening); the worker must still wait for it and record it.
  await stopsListening(server.baseUrl);
  assert.equal(server.child.exitCode, null, "the process waits for the attempt in flight");
  release();
  assert.deepEqual(await once(server.child, "exit"), [0, null]);

  const store = await Store.open(database.url);
  try {
    const attempts = await store.db.selectFrom("attempts").select(["status_code", "succeeded", "response_excerpt"]).execute();
    assert.deepEqual(attempts, [{ status_code: 200, succeeded: 1, response_excerpt: "finished" }]);
    const deliveries = await store.db.selectFrom("deliveries").select(["status", "lease_owner"]).execute();
    assert.deepEqual(deliveries, [{ status: "Success", lease_owner: null }]);
  } finally {
    await store.close();
  }
});

test("npm run demo shows a verified connection.failed webhook", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "demo"], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const [code] = await once(child, "exit");
  assert.equal(code, 0, output);
  assert.match(output, /"eventType": "connection.failed"/);
  assert.match(output, /"statusText": "User cancelled linking"/);
  assert.match(output, /webhook-signature: v1,/);
  assert.match(output, /Signature verified/);
});
