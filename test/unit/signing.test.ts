/**
 * Standard Webhooks signing, checked against the standard's reference library
 * (`standardwebhooks`) and a published example, not against the formula the
 * code itself uses.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { activeSecrets, signature, signatureHeaders } from "../../src/delivery/signing.ts";

// The example of the Standard Webhooks reference libraries' own tests.
const EXAMPLE = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  messageId: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

const OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

describe("signature", () => {
  test("matches the published example", () => {
    assert.equal(signature(EXAMPLE.secret, EXAMPLE.messageId, EXAMPLE.timestamp, EXAMPLE.body), EXAMPLE.signature);
  });

  test("matches the reference library, for a string or a Buffer body, with or without the whsec_ prefix", () => {
    const body = JSON.stringify({ eventType: "connection.created", payload: { name: "Ünïcode ✓" } });
    const expected = new Webhook(OTHER_SECRET).sign("msg_1", new Date(1_700_000_000_000), body);
    assert.equal(signature(OTHER_SECRET, "msg_1", 1_700_000_000, body), expected);
    assert.equal(signature(OTHER_SECRET, "msg_1", 1_700_000_000, Buffer.from(body)), expected);
    assert.equal(signature(OTHER_SECRET.slice("whsec_".length), "msg_1", 1_700_000_000, body), expected);
  });

  test("changes with each of the message id, the timestamp, the body and the secret", () => {
    const base = signature(EXAMPLE.secret, EXAMPLE.messageId, EXAMPLE.timestamp, EXAMPLE.body);
    assert.notEqual(signature(EXAMPLE.secret, "msg_other", EXAMPLE.timestamp, EXAMPLE.body), base);
    assert.notEqual(signature(EXAMPLE.secret, EXAMPLE.messageId, EXAMPLE.timestamp + 1, EXAMPLE.body), base);
    assert.notEqual(signature(EXAMPLE.secret, EXAMPLE.messageId, EXAMPLE.timestamp, `${EXAMPLE.body} `), base);
    assert.notEqual(signature(OTHER_SECRET, EXAMPLE.messageId, EXAMPLE.timestamp, EXAMPLE.body), base);
  });
});

describe("signature headers", () => {
  test("the three headers, which the reference library verifies under every active secret", () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const body = '{"hello":"world"}';
    const headers = signatureHeaders([EXAMPLE.secret, OTHER_SECRET], "msg_2", timestamp, body);
    assert.deepEqual(Object.keys(headers).sort(), ["webhook-id", "webhook-signature", "webhook-timestamp"]);
    assert.equal(headers["webhook-id"], "msg_2");
    assert.equal(headers["webhook-timestamp"], String(timestamp));
    assert.deepEqual(headers["webhook-signature"]!.split(" "), [
      signature(EXAMPLE.secret, "msg_2", timestamp, body),
      signature(OTHER_SECRET, "msg_2", timestamp, body),
    ]);
    for (const secret of [EXAMPLE.secret, OTHER_SECRET]) assert.deepEqual(new Webhook(secret).verify(body, headers), { hello: "world" });
    assert.throws(() => new Webhook("whsec_" + Buffer.from("another key entirely").toString("base64")).verify(body, headers));
  });
});

describe("active secrets", () => {
  const NOW = 1_700_000_000_000;

  test("the current secret alone when none was rotated out", () => {
    assert.deepEqual(activeSecrets("current", null, NOW), ["current"]);
    assert.deepEqual(activeSecrets("current", [], NOW), ["current"]);
  });

  test("the current secret first, then the rotated-out ones whose overlap has not ended at now", () => {
    const previous = [
      { key: "ends later", expiresAt: NOW + 1 },
      { key: "ends now", expiresAt: NOW },
      { key: "ended", expiresAt: NOW - 1 },
      { key: "ends much later", expiresAt: NOW + 86_400_000 },
    ];
    assert.deepEqual(activeSecrets("current", previous, NOW), ["current", "ends later", "ends much later"]);
  });
});
