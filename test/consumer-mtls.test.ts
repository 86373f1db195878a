import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, afterEach, before, describe, test } from "node:test";
import { asId, type ConsumerId } from "../src/ids.ts";
import { CertificateAuthority, MutualTlsReceiver, type Issued } from "./support/certificates.ts";
import { recorded, subscribe } from "./support/consumers.ts";
import { startHookline, type Hookline } from "../src/server.ts";
import { startTestServer, testConfig, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const ca = CertificateAuthority.create("Hookline test CA");
const otherCa = CertificateAuthority.create("Someone else's CA");
const serverCertificate = ca.issue("receiver", "server");
const client = ca.issue("hookline-client", "client");
const secondClient = ca.issue("hookline-client-2", "client");
const foreignClient = otherCa.issue("hookline-client", "client");
const expiredClient = ca.issue("hookline-client", "client", { expired: true });

const mtls = ({ privateKey, certificate }: Issued) => ({ privateKey, certificate });
/** A line from the middle of a PEM key: if it shows up somewhere, the key leaked. */
const keyMaterial = (issued: Issued) => issued.privateKey.split("\n")[5]!;

describe("mTLS client certificates", () => {
  let server: TestServer;
  let receiver: MutualTlsReceiver;
  let folder: string;
  before(async () => {
    folder = mkdtempSync(join(tmpdir(), "hookline-mtls-"));
    const caFile = join(folder, "ca.pem");
    writeFileSync(caFile, ca.certificate);
    server = await startTestServer({ encryptionKey: randomBytes(32).toString("base64"), extraCaFile: caFile, retrySchedule: "none" });
    receiver = await MutualTlsReceiver.start(serverCertificate, ca.certificate);
  });
  after(async () => {
    await server.close();
    await receiver.close();
    rmSync(folder, { recursive: true, force: true });
  });
  // Each test counts what its own consumers got: those of earlier tests go.
  afterEach(async () => {
    for (const consumer of (await server.api("GET", "/webhooks")).body.results) await server.api("DELETE", `/webhooks/${consumer.id}`);
  });

  /** Sends one event and waits until this consumer's attempt is recorded. */
  async function deliverOnce(consumerId: string) {
    const before = (await recorded(server, consumerId)).attempts.length;
    await server.api("POST", "/companies", { name: "mTLS" });
    const { attempts } = await until(
      "a recorded attempt",
      () => recorded(server, consumerId),
      ({ attempts }) => attempts.length > before,
    );
    return attempts[attempts.length - 1]!;
  }

  test("deliveries present the configured certificate; the key is stored encrypted and never shown", async () => {
    const id = await subscribe(server, receiver.url);
    const set = await server.api("PUT", `/webhooks/${id}/mtls`, mtls(client));
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.mtls.subject, "CN=hookline-client");
    assert.ok(Date.parse(set.body.mtls.expiresAt) > Date.now());
    const got = await server.api("GET", `/webhooks/${id}`);
    assert.deepEqual(got.body.mtls, set.body.mtls);
    assert.ok(!JSON.stringify(got.body).includes(keyMaterial(client)) && !JSON.stringify(set.body).includes("PRIVATE KEY"), "the key is never returned");

    const stored = await server.hookline.ctx.store.db
      .selectFrom("consumers")
      .select("mtls_private_key")
      .where("id", "=", asId<ConsumerId>(id))
      .executeTakeFirstOrThrow();
    assert.match(stored.mtls_private_key!, /^v2\./);
    assert.ok(!stored.mtls_private_key!.includes("PRIVATE KEY") && !stored.mtls_private_key!.includes(keyMaterial(client)), "stored encrypted");

    const attempt = await deliverOnce(id);
    assert.equal(attempt.succeeded, 1, String(attempt.error));
    assert.equal(attempt.status_code, 204);
    assert.deepEqual(await receiver.waitFor(1), ["hookline-client"]);
    assert.ok(!server.logs().includes(keyMaterial(client)), "the key is not logged");
  });

  test("without a certificate, or with one the receiver does not trust, the attempt fails and is recorded", async () => {
    const plain = await subscribe(server, receiver.url);
    const foreign = await subscribe(server, receiver.url);
    assert.equal((await server.api("PUT", `/webhooks/${foreign}/mtls`, mtls(foreignClient))).status, 200);
    const seen = receiver.clientNames.length;
    await server.api("POST", "/companies", { name: "Refused" });
    for (const id of [plain, foreign]) {
      const { attempts } = await until(
        "Failure",
        () => recorded(server, id),
        ({ deliveries }) => deliveries[0]?.status === "Failure",
      );
      assert.equal(attempts.length, 1);
      assert.equal(attempts[0]!.succeeded, 0);
      assert.equal(attempts[0]!.status_code, null);
      assert.ok(attempts[0]!.error, "the TLS failure is recorded");
    }
    assert.equal(receiver.clientNames.length - seen, 0, "the receiver accepted none of them");
  });

  test("a replaced certificate is presented from the next delivery on, and a removed one no longer", async () => {
    const id = await subscribe(server, receiver.url);
    await server.api("PUT", `/webhooks/${id}/mtls`, mtls(client));
    assert.equal((await deliverOnce(id)).succeeded, 1);
    const replaced = await server.api("PUT", `/webhooks/${id}/mtls`, mtls(secondClient));
    assert.equal(replaced.body.mtls.subject, "CN=hookline-client-2");
    const seen = receiver.clientNames.length;
    assert.equal((await deliverOnce(id)).succeeded, 1);
    assert.equal(receiver.clientNames[seen], "hookline-client-2");

    assert.equal((await server.api("DELETE", `/webhooks/${id}/mtls`)).status, 204);
    assert.equal((await server.api("GET", `/webhooks/${id}`)).body.mtls, null);
    const stored = await server.hookline.ctx.store.db
      .selectFrom("consumers")
      .select(["mtls_private_key", "mtls_certificate"])
      .where("id", "=", asId<ConsumerId>(id))
      .executeTakeFirstOrThrow();
    assert.deepEqual(stored, { mtls_private_key: null, mtls_certificate: null }, "the key is deleted");
    assert.equal((await deliverOnce(id)).succeeded, 0);
  });

  test("keys and certificates that do not parse, do not match or have expired are refused, changing nothing", async () => {
    const id = await subscribe(server, "https://127.0.0.1:9/hooks");
    const cases: Array<[unknown, RegExp]> = [
      [{ privateKey: client.privateKey, certificate: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----" }, /certificate is not/],
      [{ privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", certificate: client.certificate }, /privateKey is not/],
      [{ privateKey: secondClient.privateKey, certificate: client.certificate }, /does not match/],
      [mtls(expiredClient), /expired/],
      [{ certificate: client.certificate }, /privateKey/],
    ];
    for (const [body, message] of cases) {
      const response = await server.api("PUT", `/webhooks/${id}/mtls`, body);
      assert.equal(response.status, 400);
      assert.match(response.body.error, message);
      assert.ok(
        !JSON.stringify(response.body).includes(keyMaterial(client)) && !JSON.stringify(response.body).includes(keyMaterial(secondClient)),
        "errors never quote the key",
      );
    }
    assert.equal((await server.api("GET", `/webhooks/${id}`)).body.mtls, null);
  });

  test("the receiver's certificate is verified: one from a CA the operator did not add fails the attempt", async (t) => {
    const untrusted = await MutualTlsReceiver.start(otherCa.issue("receiver", "server"), ca.certificate);
    t.after(() => untrusted.close());
    const id = await subscribe(server, untrusted.url);
    await server.api("PUT", `/webhooks/${id}/mtls`, mtls(client));
    const attempt = await deliverOnce(id);
    assert.equal(attempt.succeeded, 0);
    assert.match(String(attempt.error), /certificate|self.signed|verify/i);
    assert.equal(untrusted.clientNames.length, 0);
  });
});

test("a client certificate whose key was sealed under a key the process no longer has fails its attempts unsent, saying why, and sends nothing", async (t) => {
  const [firstKey, nextKey] = [randomBytes(32).toString("base64"), randomBytes(32).toString("base64")];
  const folder = mkdtempSync(join(tmpdir(), "hookline-mtls-"));
  const extraCaFile = join(folder, "ca.pem");
  writeFileSync(extraCaFile, ca.certificate);
  const receiver = await MutualTlsReceiver.start(serverCertificate, ca.certificate);
  const server = await startTestServer({ encryptionKey: firstKey, extraCaFile, retrySchedule: "none" });
  let running: Hookline | undefined = server.hookline;
  let restartedLogs = "";
  t.after(async () => {
    await running?.close();
    await server.database.drop();
    await receiver.close();
    rmSync(folder, { recursive: true, force: true });
  });
  /** The same database and port under other keys, as an operator restarting with another HOOKLINE_ENCRYPTION_KEY would. */
  const restartWith = async (encryptionKey: string) => {
    await running!.close();
    running = undefined;
    const logs = new PassThrough();
    logs.on("data", (chunk: Buffer) => (restartedLogs += chunk.toString("utf8")));
    const port = new URL(server.baseUrl).port;
    running = await startHookline(
      { ...testConfig(server.database.url, { encryptionKey, extraCaFile, retrySchedule: "none", port }), logLevel: "debug" },
      { logDestination: logs },
    );
  };

  // Sealed under the first key; then, with the next key added in front, the signing secret is rotated and so sealed under it,
  // while the mTLS key stays under the first (nobody ran `hookline encryption rotate`). The first key is then dropped.
  const id = await subscribe(server, receiver.url);
  assert.equal((await server.api("PUT", `/webhooks/${id}/mtls`, mtls(client))).status, 200);
  await restartWith(`${nextKey},${firstKey}`);
  assert.equal((await server.api("POST", `/webhooks/${id}/secret/rotate`)).status, 200);
  await restartWith(nextKey);

  await server.api("POST", "/companies", { name: "Key lost" });
  const { deliveries, attempts } = await until(
    "the delivery to fail",
    () => recorded({ ...server, hookline: running! }, id),
    ({ deliveries }) => deliveries[0]?.status === "Failure",
  );
  assert.equal(deliveries.length, 1);
  assert.equal(attempts.length, 1);
  assert.equal(attempts[0]!.succeeded, 0);
  assert.equal(attempts[0]!.status_code, null, "nothing was sent");
  assert.match(String(attempts[0]!.error), /mTLS key cannot be decrypted/);
  assert.equal(receiver.clientNames.length, 0, "the receiver got nothing");
  for (const text of [String(attempts[0]!.error), server.logs(), restartedLogs]) {
    for (const secret of [firstKey, nextKey, keyMaterial(client)]) assert.ok(!text.includes(secret), "no key in the error or the logs");
  }
});
