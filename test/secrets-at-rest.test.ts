import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { asId, type ConsumerId } from "../src/ids.ts";
import { SecretBox } from "../src/secret-box.ts";
import type { Db } from "../src/storage/database.ts";
import { CertificateAuthority } from "./support/certificates.ts";
import { runCli, runCliWith } from "./support/cli.ts";
import { recorded, signatureHeadersOf, subscribe } from "./support/consumers.ts";
import { testDialect } from "./support/database.ts";
import { withReceiver, type ReceivedWebhook } from "./support/receiver.ts";
import { firstStart, Harness, ServeProcess } from "./support/serve-process.ts";
import { callApi, freePort, startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const newKey = () => randomBytes(32).toString("base64");
const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

function verifies(secret: string, webhook: ReceivedWebhook): boolean {
  try {
    new Webhook(secret).verify(webhook.body, signatureHeadersOf(webhook));
    return true;
  } catch {
    return false;
  }
}

/** An mTLS key as the release before encryption at rest sealed it: no key id, bound to the consumer id alone. */
function sealedByEarlierRelease(key: string, plaintext: string, consumerId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", Buffer.from(key, "base64"), iv).setAAD(Buffer.from(consumerId, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString("base64")}`;
}

/** A consumer's secret columns exactly as the database holds them. */
const storedSecrets = (db: Db, consumerId: string) =>
  db
    .selectFrom("consumers")
    .select(["signing_secret", "previous_secrets", "custom_headers"])
    .where("id", "=", asId<ConsumerId>(consumerId))
    .executeTakeFirstOrThrow();

/** Asserts no stored value shows any of `secrets` (a signing secret also without its whsec_ prefix) and every one is sealed. */
function assertSealed(stored: Record<string, string | null>, secrets: string[]): void {
  const text = JSON.stringify(stored);
  for (const secret of secrets) assert.ok(!text.includes(secret.replace(/^whsec_/, "")), `a secret (${secret.slice(0, 8)}...) is stored in plaintext`);
  for (const [column, value] of Object.entries(stored)) assert.match(String(value), /^v2\./, `${column} is sealed`);
}

describe("secrets at rest", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ retrySchedule: "none" });
  });
  after(() => server.close());

  // Each test has a receiver of its own, so other tests' consumers do not count.
  test("signing secrets, rotated-out secrets and header values are stored encrypted; deliveries are signed with them and carry the headers", async (t) => {
    const receiver = await withReceiver(t);
    const id = await subscribe(server, receiver.url);
    const oldSecret = (await server.api("GET", `/webhooks/${id}/secret`)).body.key;
    const secret = (await server.api("POST", `/webhooks/${id}/secret/rotate`)).body.key;
    const token = `Bearer ${randomBytes(16).toString("hex")}`;
    assert.equal((await server.api("PUT", `/webhooks/${id}/headers`, { headers: { Authorization: token, "X-Tenant": "tenant-7" } })).status, 200);

    assertSealed(await storedSecrets(server.hookline.ctx.store.db, id), [oldSecret, secret, token, "tenant-7"]);
    assert.equal((await server.api("GET", `/webhooks/${id}/secret`)).body.key, secret);
    assert.deepEqual((await server.api("GET", `/webhooks/${id}/headers`)).body, { headers: { Authorization: `****${token.slice(-4)}`, "X-Tenant": "****" } });

    await server.api("POST", "/companies", { name: "Sealed" });
    const [webhook] = await receiver.waitFor(1);
    assert.ok(verifies(secret, webhook!) && verifies(oldSecret, webhook!), "signed under the new and the rotated-out secret");
    assert.equal(webhook!.headers.authorization, token);
    assert.equal(webhook!.headers["x-tenant"], "tenant-7");
  });

  test("a secret copied onto another consumer does not decrypt there: its attempts fail unsent, saying why", async (t) => {
    const receiver = await withReceiver(t);
    const source = await subscribe(server, receiver.url);
    const target = await subscribe(server, receiver.url);
    const { db } = server.hookline.ctx.store;
    const { signing_secret } = await storedSecrets(db, source);
    await db.updateTable("consumers").set({ signing_secret }).where("id", "=", asId<ConsumerId>(target)).execute();

    await server.api("POST", "/companies", { name: "Copied" });
    const { attempts } = await until(
      "the delivery to fail",
      () => recorded(server, target),
      ({ deliveries }) => deliveries[0]?.status === "Failure",
    );
    assert.equal(attempts[0]!.status_code, null);
    assert.match(String(attempts[0]!.error), /signing secret cannot be decrypted/);
    const [webhook] = await receiver.waitFor(1);
    assert.equal(receiver.received.length, 1, "only the consumer the secret belongs to got the event");
    assert.ok(verifies((await server.api("GET", `/webhooks/${source}/secret`)).body.key, webhook!));
    assert.equal((await server.api("GET", `/webhooks/${target}/secret`)).status, 500);
  });

  test("plaintext secrets from an earlier release are used as they are until `hookline migrate` (or the next start) encrypts them", async (t) => {
    const receiver = await withReceiver(t);
    const id = await subscribe(server, receiver.url);
    const [secret, previous, token] = [newSecret(), newSecret(), `Bearer legacy-${randomBytes(8).toString("hex")}`];
    const { db } = server.hookline.ctx.store;
    await db
      .updateTable("consumers")
      .set({
        signing_secret: secret,
        previous_secrets: JSON.stringify([{ key: previous, expiresAt: Date.now() + 3_600_000 }]),
        custom_headers: JSON.stringify({ Authorization: token }),
      })
      .where("id", "=", asId<ConsumerId>(id))
      .execute();
    assert.equal((await server.api("GET", `/webhooks/${id}/secret`)).body.key, secret);
    await server.api("POST", "/companies", { name: "Legacy" });
    const [legacy] = await receiver.waitFor(1);
    assert.ok(verifies(secret, legacy!) && verifies(previous, legacy!));
    assert.equal(legacy!.headers.authorization, token);

    await runCli(server.database.url, "migrate");
    assertSealed(await storedSecrets(db, id), [secret, previous, token]);
    await server.api("POST", "/companies", { name: "Encrypted since" });
    const [, sealed] = await receiver.waitFor(2);
    assert.ok(verifies(secret, sealed!) && verifies(previous, sealed!));
    assert.equal(sealed!.headers.authorization, token);
  });
});

describe("the secret box", () => {
  test("a value whose authentication tag is cut short is refused", () => {
    const box = new SecretBox([newKey()]);
    const sealed = box.seal("", "signing-secret", "consumer");
    assert.equal(box.open(sealed, "signing-secret", "consumer"), "");
    const [version, keyId, payload] = sealed.split(".");
    // The IV and the first 4 bytes of the tag: AES-GCM on its own verifies such a tag.
    const truncated = `${version}.${keyId}.${Buffer.from(payload!, "base64").subarray(0, 16).toString("base64")}`;
    assert.throws(() => box.open(truncated, "signing-secret", "consumer"), /too short/);
  });

  test("a value opens only for its record and purpose, under a key still listed", () => {
    const key = newKey();
    const sealed = new SecretBox([key]).seal("whsec_abc", "signing-secret", "consumer");
    assert.throws(() => new SecretBox([key]).open(sealed, "signing-secret", "another consumer"));
    assert.throws(() => new SecretBox([key]).open(sealed, "custom-headers", "consumer"));
    assert.throws(() => new SecretBox([newKey()]).open(sealed, "signing-secret", "consumer"), /not configured/);
    assert.equal(new SecretBox([newKey(), key]).open(sealed, "signing-secret", "consumer"), "whsec_abc");
  });
});

test("rotating HOOKLINE_ENCRYPTION_KEY: processes with either key first run side by side, `hookline encryption rotate` re-encrypts, then the new key alone suffices", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const receiver = await harness.receiver();
  const [oldKey, nextKey] = [newKey(), newKey()];
  const { server, api, apiKey } = await firstStart(harness, database.url, { env: { HOOKLINE_ENCRYPTION_KEY: oldKey } });
  const id = (await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] })).body.id;
  const oldSecret = (await api("GET", `/webhooks/${id}/secret`)).body.key;
  const secret = (await api("POST", `/webhooks/${id}/secret/rotate`)).body.key;
  assert.equal((await api("PUT", `/webhooks/${id}/headers`, { headers: { Authorization: "Bearer before rotation" } })).status, 200);
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
  // A client certificate whose key the earlier release sealed: every attempt opens it (the receiver, plain HTTP, never asks for it).
  const store = await harness.store(database.url);
  const client = CertificateAuthority.create("Rotation CA").issue("hookline-client", "client");
  await store.db
    .updateTable("consumers")
    .set({ mtls_certificate: client.certificate, mtls_private_key: sealedByEarlierRelease(oldKey, client.privateKey, id) })
    .where("id", "=", id)
    .execute();

  // Mid-rotation: an API process already sealing under the new key beside a worker still sealing under the old one; each opens both.
  const apiProcess = await harness.serve(database.url, { roles: "api", env: { HOOKLINE_ENCRYPTION_KEY: `${nextKey},${oldKey}` } });
  const worker = await harness.serve(database.url, {
    roles: "worker",
    env: { HOOKLINE_ENCRYPTION_KEY: `${oldKey},${nextKey}`, HOOKLINE_WORKER_IDLE_POLL: "200ms" },
  });
  const during = (method: string, path: string, body?: unknown) => callApi(apiProcess.baseUrl, apiKey, method, path, body);
  assert.equal((await during("PUT", `/webhooks/${id}/headers`, { headers: { Authorization: "Bearer during rotation" } })).status, 200);
  await during("POST", "/companies", { name: "During rotation" });
  const [sent] = await receiver.waitFor(1);
  assert.ok(verifies(secret, sent!) && verifies(oldSecret, sent!));
  assert.equal(sent!.headers.authorization, "Bearer during rotation");
  await apiProcess.stop();
  await worker.stop();

  const { stdout } = await runCliWith({ HOOKLINE_ENCRYPTION_KEY: `${nextKey},${oldKey}` }, database.url, "encryption", "rotate");
  // The headers were set under the new key already; the secrets were sealed under the old one.
  assert.match(stdout, /1 signing secrets, 1 sets of rotated-out secrets, 0 sets of custom headers, 1 mTLS keys/);
  const { mtls_private_key } = await store.db.selectFrom("consumers").select("mtls_private_key").where("id", "=", id).executeTakeFirstOrThrow();
  for (const value of [...Object.values(await storedSecrets(store.db, id)), mtls_private_key]) {
    assert.ok(new SecretBox([nextKey]).sealsAsCurrent(value!), "sealed under the new key");
  }

  const rotated = await harness.serve(database.url, { env: { HOOKLINE_ENCRYPTION_KEY: nextKey } });
  assert.equal((await callApi(rotated.baseUrl, apiKey, "GET", `/webhooks/${id}/secret`)).body.key, secret);
  await callApi(rotated.baseUrl, apiKey, "POST", "/companies", { name: "After rotation" });
  const [, later] = await receiver.waitFor(2);
  assert.ok(verifies(secret, later!) && verifies(oldSecret, later!));
  assert.equal(later!.headers.authorization, "Bearer during rotation");
  await rotated.stop();

  // A process left with the old key alone cannot decrypt them: its attempts fail unsent, saying why.
  const stale = await harness.serve(database.url, { env: { HOOKLINE_ENCRYPTION_KEY: oldKey } });
  await callApi(stale.baseUrl, apiKey, "POST", "/companies", { name: "Old key only" });
  await until("the attempt under the old key alone", async () => {
    const failed = await store.db.selectFrom("attempts").select("error").where("consumer_id", "=", id).where("succeeded", "=", 0).execute();
    return failed.length > 0 ? true : "no failed attempt yet";
  });
  const [failed] = await store.db.selectFrom("attempts").select(["error", "status_code"]).where("consumer_id", "=", id).where("succeeded", "=", 0).execute();
  assert.match(String(failed!.error), /cannot be decrypted/);
  assert.equal(failed!.status_code, null);
  assert.equal(receiver.received.length, 2, "nothing was sent");
});

test(
  "without HOOKLINE_ENCRYPTION_KEY, SQLite makes a key file beside the database on the first start (owner-only, logged with its place) and reuses it",
  { skip: testDialect !== "sqlite" && "SQLite only" },
  async (t) => {
    const harness = new Harness(t);
    const database = await harness.database();
    const keyFile = join(dirname(database.url.replace(/^sqlite:/, "")), "encryption.key");
    const { server, api, apiKey } = await firstStart(harness, database.url, { env: { HOOKLINE_LOG_LEVEL: "info" } });
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const key = readFileSync(keyFile, "utf8").trim();
    assert.equal(Buffer.from(key, "base64").length, 32);
    const logged = server
      .logs()
      .split("\n")
      .find((line) => line.includes("Generated the encryption key"));
    assert.ok(logged?.includes(keyFile), "the log says where the key is");
    assert.ok(!server.logs().includes(key), "never the key itself");

    const id = (await api("POST", "/webhooks", { url: "https://127.0.0.1:9/hooks", eventTypes: ["company.created"] })).body.id;
    const secret = (await api("GET", `/webhooks/${id}/secret`)).body.key;
    const client = CertificateAuthority.create("Key file CA").issue("hookline-client", "client");
    assert.equal(
      (await api("PUT", `/webhooks/${id}/mtls`, { privateKey: client.privateKey, certificate: client.certificate })).status,
      200,
      "mTLS has a key to seal with",
    );
    assert.deepEqual(await server.stop(), { code: 0, signal: null });

    const second = await harness.serve(database.url, { env: { HOOKLINE_LOG_LEVEL: "info" } });
    assert.equal(readFileSync(keyFile, "utf8").trim(), key, "the key file is reused");
    assert.doesNotMatch(second.logs(), /Generated the encryption key/);
    assert.equal((await callApi(second.baseUrl, apiKey, "GET", `/webhooks/${id}/secret`)).body.key, secret);
  },
);

test("PostgreSQL refuses to start without HOOKLINE_ENCRYPTION_KEY, saying why", { skip: testDialect !== "postgres" && "PostgreSQL only" }, async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const server = ServeProcess.spawn(database.url, await freePort(), { env: { HOOKLINE_ENCRYPTION_KEY: "" } });
  t.after(() => server.kill());
  assert.deepEqual(await server.exited(), { code: 1, signal: null });
  assert.match(server.logs(), /HOOKLINE_ENCRYPTION_KEY is required with PostgreSQL/);
  assert.match(server.logs(), /every process on every machine must share it/);
});
