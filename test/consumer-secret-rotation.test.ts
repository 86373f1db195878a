import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { cli } from "./support/cli.ts";
import { signatureHeadersOf, subscribe } from "./support/consumers.ts";
import { Receiver, withReceiver, type ReceivedWebhook } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

function verifies(secret: string, webhook: ReceivedWebhook): boolean {
  const headers = signatureHeadersOf(webhook);
  const results = [new StandardWebhook(secret), new SvixWebhook(secret)].map((library) => {
    try {
      library.verify(webhook.body, headers);
      return true;
    } catch {
      return false;
    }
  });
  assert.equal(results[0], results[1], "svix and standardwebhooks agree");
  return results[0]!;
}

const signatureCount = (webhook: ReceivedWebhook) => String(webhook.headers["webhook-signature"]).split(" ").length;

describe("signing secret rotation, during the overlap", () => {
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

  test("deliveries carry a signature under the new and one under the old secret, and both libraries verify either", async () => {
    const id = await subscribe(server, receiver.url);
    const oldSecret = (await server.api("GET", `/webhooks/${id}/secret`)).body.key;
    assert.equal((await server.api("GET", `/webhooks/${id}`)).body.secretOverlapEndsAt, null, "no rotated-out secret signs yet");
    const rotated = await server.api("POST", `/webhooks/${id}/secret/rotate`);
    assert.equal(rotated.status, 200);
    const newSecret = rotated.body.key;
    assert.match(newSecret, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.notEqual(newSecret, oldSecret);
    assert.equal((await server.api("GET", `/webhooks/${id}/secret`)).body.key, newSecret, "the secret endpoint shows the new secret");
    const overlapEnd = (await server.api("GET", `/webhooks/${id}`)).body.secretOverlapEndsAt;
    assert.match(overlapEnd, /^\d{4}-\d\d-\d\dT/, "the consumer shows when the old secret stops signing");
    assert.equal(JSON.parse(await cli(server, "webhooks", "get", id)).secretOverlapEndsAt, overlapEnd, "and so does `hookline webhooks get`");

    await server.api("POST", "/companies", { name: "Rotating" });
    const [webhook] = await receiver.waitFor(1);
    assert.equal(signatureCount(webhook!), 2);
    assert.match(String(webhook!.headers["webhook-signature"]), /^v1,\S+ v1,\S+$/);
    assert.ok(verifies(newSecret, webhook!), "the new secret verifies");
    assert.ok(verifies(oldSecret, webhook!), "the old secret still verifies");
    assert.ok(!verifies("whsec_" + Buffer.alloc(32, 7).toString("base64"), webhook!), "another secret does not");
    assert.ok(!server.logs().includes(newSecret.slice(6)) && !server.logs().includes(oldSecret.slice(6)), "secrets are not logged");
  });

  test("rotating again keeps every secret whose overlap has not ended", async (t) => {
    const own = await withReceiver(t);
    const id = await subscribe(server, own.url);
    const first = (await server.api("GET", `/webhooks/${id}/secret`)).body.key;
    const second = (await server.api("POST", `/webhooks/${id}/secret/rotate`)).body.key;
    const third = (await server.api("POST", `/webhooks/${id}/secret/rotate`)).body.key;
    await server.api("POST", "/companies", { name: "Twice rotated" });
    const [webhook] = await own.waitFor(1);
    assert.equal(signatureCount(webhook!), 3);
    for (const secret of [first, second, third]) assert.ok(verifies(secret, webhook!));
  });
});

describe("signing secret rotation, after the overlap", () => {
  let server: TestServer;
  let receiver: Receiver;
  const overlapMs = 300;
  before(async () => {
    server = await startTestServer({ secretRotationOverlap: `${overlapMs}ms` });
    receiver = await Receiver.start();
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test("once the overlap has ended, deliveries are signed under the new secret only", async () => {
    const id = await subscribe(server, receiver.url);
    const oldSecret = (await server.api("GET", `/webhooks/${id}/secret`)).body.key;
    const rotatedAt = Date.now();
    const newSecret = (await server.api("POST", `/webhooks/${id}/secret/rotate`)).body.key;

    // Send events until one is signed after the overlap; each is checked as it arrives.
    let sent = 0;
    const webhook = await until(
      "a delivery signed after the overlap",
      async () => {
        sent++;
        await server.api("POST", "/companies", { name: `After rotation ${sent}` });
        const arrived = (await receiver.waitFor(sent))[sent - 1]!;
        assert.ok(verifies(newSecret, arrived), "the new secret always verifies");
        return arrived;
      },
      (arrived) => signatureCount(arrived) === 1,
    );
    assert.ok(Number(webhook.headers["webhook-timestamp"]) * 1000 >= Math.floor((rotatedAt + overlapMs) / 1000) * 1000, "it was signed after the overlap");
    assert.ok(!verifies(oldSecret, webhook), "the old secret no longer verifies");
    assert.equal((await server.api("GET", `/webhooks/${id}`)).body.secretOverlapEndsAt, null, "the consumer no longer shows an overlap");
  });
});
