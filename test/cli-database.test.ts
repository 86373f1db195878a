import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { CLI, runCli } from "./support/cli.ts";
import { testDialect } from "./support/database.ts";
import { Receiver } from "./support/receiver.ts";
import { firstStart, Harness } from "./support/serve-process.ts";

/** What a failed CLI run printed on standard error. */
async function failure(run: Promise<unknown>): Promise<string> {
  const error = await run.then(
    () => assert.fail("the command should have failed"),
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal(error.code, 1);
  return error.stderr;
}

test("a command other than serve and migrate refuses to create a database, and names the one it looked for", async (t) => {
  const folder = mkdtempSync(join(tmpdir(), "hookline-cli-"));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const environment = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("HOOKLINE_") && name !== "DATABASE_URL"));
  // Run as a newcomer would: in a folder of their own, without the server's HOOKLINE_DATABASE_URL.
  const stderr = await failure(promisify(execFile)(process.execPath, [CLI, "keys", "list"], { cwd: folder, env: environment }));
  assert.match(stderr, new RegExp(`There is no Hookline database at SQLite file ${join(folder, "data", "hookline.db")}`));
  assert.match(stderr, /only `hookline serve` and `hookline migrate` create one/);
  assert.match(stderr, /--database-url or HOOKLINE_DATABASE_URL/);
  assert.deepEqual(readdirSync(folder), [], "nothing was created: no database, no key file");
});

test("on the server's database: migrate creates it, each command names it on stderr, and --client defaults to the only client", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  // A PostgreSQL database exists but is empty; a SQLite file does not exist yet: neither is made by a command.
  const refused = await failure(runCli(database.url, "clients", "list"));
  assert.match(refused, testDialect === "sqlite" ? /There is no Hookline database at SQLite file/ : /PostgreSQL .* holds no Hookline database/);
  if (testDialect === "sqlite") assert.ok(!existsSync(database.url.replace(/^sqlite:/, "")), "the SQLite file was not created");

  const migrated = await runCli(database.url, "migrate");
  assert.match(migrated.stdout, /Database is up to date/);
  const created = await runCli(database.url, "clients", "create", "Only client");
  const describedAs = testDialect === "sqlite" ? /^Database: SQLite file \/\S+hookline\.db$/m : /^Database: PostgreSQL postgres:\/\/\S+$/m;
  assert.match(created.stderr, describedAs, "the command says which database it used");
  const { clientId } = JSON.parse(created.stdout);

  const key = await runCli(database.url, "keys", "create", "--name", "no --client given");
  assert.equal(JSON.parse(key.stdout).name, "no --client given");
  const listed = JSON.parse((await runCli(database.url, "keys", "list", "--client", clientId, "--json")).stdout);
  assert.equal(listed.length, 2, "the key went to the only client");

  const second = JSON.parse((await runCli(database.url, "clients", "create", "Second client")).stdout);
  const ambiguous = await failure(runCli(database.url, "keys", "list"));
  assert.match(ambiguous, /There are 2 clients: choose one with --client/);
  assert.ok(ambiguous.includes(clientId) && ambiguous.includes(second.clientId), "both are named");

  const help = (await runCli(database.url, "messages", "recover", "--help")).stdout;
  assert.match(help, /--since <time>\s+\(required\)/, "--help shows --since as required");
});

test("the CLI publishes with the server's public URL, and serve logs failed attempts and its graceful shutdown", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const receiver = await Receiver.start((_index, _webhook, response) => response.writeHead(500).end("receiver down"));
  t.after(() => receiver.close());
  const publicUrl = "http://hooks.example.test:9443";
  const { server, api } = await firstStart(harness, database.url, { env: { HOOKLINE_PUBLIC_URL: publicUrl, HOOKLINE_LOG_LEVEL: "info" } });
  const consumer = await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["read.completed"] });
  assert.equal(consumer.status, 201);
  const headerValue = "Bearer custom-header-credential-1234";
  assert.equal((await api("PATCH", `/webhooks/${consumer.body.id}/headers`, { headers: { Authorization: headerValue } })).status, 200);
  const secret = (await api("GET", `/webhooks/${consumer.body.id}/secret`)).body.key as string;
  const company = (await api("POST", "/companies", { name: "Linked from the CLI" })).body;

  // The CLI runs without HOOKLINE_PUBLIC_URL: it takes the one the server recorded.
  const payload = { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] };
  const published = JSON.parse(
    (await runCli(database.url, "events", "publish", "read.completed", "--company", company.id, "--payload", JSON.stringify(payload))).stdout,
  );
  assert.equal(published.payload.referenceCompany.links.portal, `${publicUrl}/portal/companies/${company.id}/summary`);

  const failed = await server.waitForOutput(/\{[^\n]*"delivery attempt failed"[^\n]*\}/);
  const line = JSON.parse(failed[0]);
  assert.deepEqual(
    [line.level, line.consumerId, line.messageId, line.statusCode, line.attempt],
    [30, consumer.body.id, published.id, 500, 1],
    "at info level: the consumer, the message, the status and the attempt",
  );
  assert.match(line.reason, /500/);
  const logs = server.logs();
  for (const hidden of [secret.slice(6), headerValue, "receiver down"]) assert.ok(!logs.includes(hidden), `the log holds no ${hidden}`);

  const { code } = await server.stop();
  assert.equal(code, 0);
  const { stdout } = server.streams();
  assert.match(stdout, /"shutting down: no new requests or deliveries are taken/);
  assert.match(stdout, /"shut down gracefully"/);
});
