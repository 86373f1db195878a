/**
 * `hookline backup <file>`: a consistent copy of a SQLite database made while
 * `serve` keeps serving and delivering, its encryption key beside it, and a
 * restore that is a server started on the copy. PostgreSQL is refused with a
 * pointer to pg_dump.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test, type TestContext } from "node:test";
import { Webhook } from "standardwebhooks";
import { runCli, runCliWith } from "./support/cli.ts";
import { signatureHeadersOf } from "./support/consumers.ts";
import { testDialect } from "./support/database.ts";
import { firstStart, Harness, type Api } from "./support/serve-process.ts";
import { callApi, type ApiResponse } from "./support/server.ts";
import { until } from "./support/wait.ts";

const SQLITE_ONLY = { skip: testDialect !== "sqlite" && "SQLite only: PostgreSQL is backed up with pg_dump, which the PostgreSQL refusal test covers" };
const SQLITE_HEADER = "SQLite format 3\0";

/** A folder for backups, apart from the database's, removed when the test ends. */
function backupFolder(t: TestContext): string {
  const folder = mkdtempSync(join(tmpdir(), "hookline-backup-"));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

const fileOf = (databaseUrl: string) => databaseUrl.replace(/^sqlite:/, "");
const keyFileBeside = (file: string) => join(dirname(file), "encryption.key");

/** A CLI run that must fail: its exit code and standard error. */
async function cliFailure(run: Promise<unknown>): Promise<{ code: number; stderr: string }> {
  try {
    await run;
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
  throw new Error("the command was expected to fail but succeeded");
}

/** Asserts a refusal: exit code 1 and exactly one line on standard error, matching every pattern. */
function assertRefused(failure: { code: number; stderr: string }, ...patterns: RegExp[]): void {
  assert.equal(failure.code, 1);
  assert.equal(failure.stderr.trimEnd().split("\n").length, 1, `one line of reason: ${failure.stderr}`);
  for (const pattern of patterns) assert.match(failure.stderr, pattern);
}

/** Every company of the client (page-numbered list). */
async function allCompanies(api: Api): Promise<string[]> {
  const ids: string[] = [];
  for (let page = 1; ; page++) {
    const response = await api("GET", `/companies?page=${page}&pageSize=100`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    ids.push(...response.body.results.map((company: { id: string }) => company.id));
    if (ids.length >= response.body.totalResults) return ids;
  }
}

/** Every message of the client (cursor-paged list). */
async function allMessages(api: Api): Promise<Array<{ id: string; eventType: string; companyId: string | null; deliveries: Array<{ webhookId: string }> }>> {
  const messages = [];
  let cursor: string | null = null;
  do {
    const response: ApiResponse = await api("GET", `/messages?limit=250${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    messages.push(...response.body.results);
    cursor = response.body.nextCursor;
  } while (cursor !== null);
  return messages;
}

test(
  "`hookline backup` copies a SQLite database while the server serves and delivers; a server started on the copy has its companies, consumer, signing secret and messages, and delivers signed events",
  SQLITE_ONLY,
  async (t) => {
    const harness = new Harness(t);
    const database = await harness.database();
    const receiver = await harness.receiver();
    // A folder the command makes, apart from the database's.
    const copy = join(backupFolder(t), "nightly", "hookline.db");

    const { server, api, apiKey } = await firstStart(harness, database.url);
    const consumer = await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] });
    assert.equal(consumer.status, 201, JSON.stringify(consumer.body));
    const webhookId: string = consumer.body.id;
    const secret: string = (await api("GET", `/webhooks/${webhookId}/secret`)).body.key;

    // Companies, each a company.created event, are created one after another before, during and after the backup.
    const created: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let index = 0; publishing; index++) {
        const response = await api("POST", "/companies", { name: `Company ${index}` });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        created.push(response.body.id);
      }
    })();
    publisher.catch(() => undefined);
    await until("the server to be delivering", async () => receiver.received.length >= 5 || `${receiver.received.length} webhooks received`);

    const createdBeforeBackup = created.length;
    const backup = await runCli(database.url, "backup", copy);
    const createdByTheEnd = created.length;
    await until("more companies created after the backup", async () => created.length >= createdByTheEnd + 3 || `${created.length - createdByTheEnd} after it`);
    publishing = false;
    await publisher;

    // What the command said: where the copy and its key are, how to restore; never the key.
    const keyFile = keyFileBeside(copy);
    const key = readFileSync(keyFileBeside(fileOf(database.url)), "utf8");
    assert.ok(backup.stdout.startsWith(`Backed up ${fileOf(database.url)} to ${copy} (`), backup.stdout);
    assert.ok(backup.stdout.includes(`Copied the encryption key to ${keyFile} (owner-only)`), backup.stdout);
    assert.ok(backup.stdout.includes(`HOOKLINE_DATABASE_URL=sqlite:${copy} npx hookline serve`), backup.stdout);
    assert.ok(!backup.stdout.includes(key.trim()) && !backup.stderr.includes(key.trim()), "the key is never printed");
    assert.equal(readFileSync(keyFile, "utf8"), key, "the database's key is beside the copy");
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, "owner-only, like the original");
    assert.equal(readFileSync(copy).subarray(0, SQLITE_HEADER.length).toString("latin1"), SQLITE_HEADER);

    // The server kept serving and delivering throughout: every event arrives.
    await until("every company.created event to be delivered", async () => {
      const delivered = new Set(receiver.events().map((event) => event.payload.id));
      const missing = created.filter((id) => !delivered.has(id)).length;
      return missing === 0 || `${missing} of ${created.length} not yet delivered`;
    });
    assert.deepEqual(await server.stop(), { code: 0, signal: null });

    // Restoring is starting a server on the copy: the same client and API key work.
    const restored = await harness.serve(`sqlite:${copy}`);
    const restoredApi: Api = (method, path, body) => callApi(restored.baseUrl, apiKey, method, path, body);

    // The copy is the database as one commit left it: every company created before the backup began, none created after it
    // returned (the one request that may have been in flight as it returned aside), each company with its event, and each
    // event with its delivery to the consumer.
    const companies = await allCompanies(restoredApi);
    const inCopy = new Set(companies);
    assert.equal(inCopy.size, companies.length);
    for (const id of created.slice(0, createdBeforeBackup)) assert.ok(inCopy.has(id), `company ${id}, created before the backup, is in the copy`);
    for (const id of created.slice(createdByTheEnd + 1)) assert.ok(!inCopy.has(id), `company ${id}, created after the backup, is not in the copy`);
    assert.ok(
      companies.every((id) => created.includes(id)),
      "every company in the copy was created on the server",
    );
    t.diagnostic(`${createdBeforeBackup} companies created before the backup, ${createdByTheEnd - createdBeforeBackup} during it, ${inCopy.size} in the copy`);
    const messages = (await allMessages(restoredApi)).filter((message) => message.eventType === "company.created");
    assert.deepEqual(new Set(messages.map((message) => message.companyId)), inCopy, "one company.created message per company in the copy");
    assert.equal(messages.length, inCopy.size);
    for (const message of messages)
      assert.deepEqual(
        message.deliveries.map((delivery) => delivery.webhookId),
        [webhookId],
      );

    const restoredConsumer = await restoredApi("GET", `/webhooks/${webhookId}`);
    assert.equal(restoredConsumer.status, 200, JSON.stringify(restoredConsumer.body));
    assert.equal(restoredConsumer.body.url, receiver.url);
    const restoredSecret = await restoredApi("GET", `/webhooks/${webhookId}/secret`);
    assert.equal(restoredSecret.status, 200, "the secret decrypts on the copy: its key came along");
    assert.equal(restoredSecret.body.key, secret);

    // A new event on the restored server is delivered, signed with the consumer's secret.
    const after = await restoredApi("POST", "/companies", { name: "After the restore" });
    assert.equal(after.status, 200, JSON.stringify(after.body));
    const webhook = await until(
      "the restored server to deliver the new event",
      async () => receiver.received.find((received) => JSON.parse(received.body).payload.id === after.body.id),
      (found) => found !== undefined,
    );
    assert.doesNotThrow(() => new Webhook(secret).verify(webhook!.body, signatureHeadersOf(webhook!)), "signed with the consumer's secret");
  },
);

test(
  "backup refuses to replace an existing file without --force, leaving it as it was, and replaces it with --force; never the database itself",
  SQLITE_ONLY,
  async (t) => {
    const harness = new Harness(t);
    const database = await harness.database();
    await runCli(database.url, "migrate");
    const copy = join(backupFolder(t), "hookline.db");
    writeFileSync(copy, "an earlier file\n");

    const refused = await cliFailure(runCli(database.url, "backup", copy));
    assertRefused(refused);
    assert.equal(refused.stderr, `${copy} already exists: pass --force to replace it\n`);
    assert.equal(readFileSync(copy, "utf8"), "an earlier file\n", "the existing file is untouched");
    assert.ok(!existsSync(keyFileBeside(copy)), "nor was a key written beside it");

    await runCli(database.url, "backup", copy, "--force");
    assert.equal(readFileSync(copy).subarray(0, SQLITE_HEADER.length).toString("latin1"), SQLITE_HEADER, "replaced by the copy");
    assert.equal(readFileSync(keyFileBeside(copy), "utf8"), readFileSync(keyFileBeside(fileOf(database.url)), "utf8"));
    // A copy replaces an earlier copy too.
    await runCli(database.url, "backup", copy, "--force");

    const itself = await cliFailure(runCli(database.url, "backup", fileOf(database.url), "--force"));
    assertRefused(itself, /is the database itself/);
  },
);

test("backup refuses a folder whose key file holds another key, since a server on the copy would use it, and writes nothing", SQLITE_ONLY, async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  await runCli(database.url, "migrate");
  const copy = join(backupFolder(t), "hookline.db");
  const otherKey = `${randomBytes(32).toString("base64")}\n`;
  writeFileSync(keyFileBeside(copy), otherKey, { mode: 0o600 });

  const refused = await cliFailure(runCli(database.url, "backup", copy));
  assertRefused(refused, /holds other keys than the database's/, /back up into another folder/);
  assert.ok(!existsSync(copy), "no copy was made");
  assert.equal(readFileSync(keyFileBeside(copy), "utf8"), otherKey, "the other key is kept");
});

test("with HOOKLINE_ENCRYPTION_KEY set, backup writes no key file and says the same key is needed to restore", SQLITE_ONLY, async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const key = randomBytes(32).toString("base64");
  await runCliWith({ HOOKLINE_ENCRYPTION_KEY: key }, database.url, "migrate");
  const copy = join(backupFolder(t), "hookline.db");

  const { stdout, stderr } = await runCliWith({ HOOKLINE_ENCRYPTION_KEY: key }, database.url, "backup", copy);
  assert.match(stdout, /HOOKLINE_ENCRYPTION_KEY is set: .* a server restored from the copy needs the same HOOKLINE_ENCRYPTION_KEY/);
  assert.ok(stdout.includes(`HOOKLINE_DATABASE_URL=sqlite:${copy} HOOKLINE_ENCRYPTION_KEY=<the same keys> npx hookline serve`), stdout);
  assert.ok(!stdout.includes(key) && !stderr.includes(key), "the key is never printed");
  assert.ok(existsSync(copy));
  assert.ok(!existsSync(keyFileBeside(copy)), "no key file: the configured key is the key");
});

test("backup refuses a PostgreSQL database, pointing at pg_dump and HOOKLINE_ENCRYPTION_KEY", async (t) => {
  const harness = new Harness(t);
  // On the PostgreSQL pass a real database; otherwise a URL nothing answers at, which the refusal never connects to.
  const url = testDialect === "postgres" ? (await harness.database()).url : "postgres://hookline@127.0.0.1:9/hookline";
  const copy = join(backupFolder(t), "hookline.db");

  const refused = await cliFailure(runCli(url, "backup", copy));
  assertRefused(refused, /SQLite databases only/, /pg_dump/, /keep HOOKLINE_ENCRYPTION_KEY/);
  assert.ok(!existsSync(copy), "nothing was written");
});
