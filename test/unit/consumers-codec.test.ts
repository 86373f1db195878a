/** How a consumer's structured and secret columns are stored, without a database. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { asId, type ConsumerId } from "../../src/ids.ts";
import { SecretBox } from "../../src/secret-box.ts";
import {
  decodeSubscription,
  encodeCompanyTags,
  encodeEventTypes,
  openCustomHeaders,
  openPreviousSecrets,
  openSigningSecret,
  resealed,
  sealCustomHeaders,
  sealPreviousSecrets,
  sealSigningSecret,
} from "../../src/storage/consumers-codec.ts";

const key = () => randomBytes(32).toString("base64");
const box = new SecretBox([key()]);
const consumer = asId<ConsumerId>("0190d7c4-5f6a-7000-8000-000000000001");
const other = asId<ConsumerId>("0190d7c4-5f6a-7000-8000-000000000002");

describe("consumer columns", () => {
  test("a subscription reads back as written; no company tags means every company", () => {
    const stored = {
      event_types: encodeEventTypes(["invoices.write.successful", "webhook.consumer.disabled"]),
      company_tags: encodeCompanyTags(["region:eu"]),
    };
    assert.deepEqual(decodeSubscription(stored), { eventTypes: ["invoices.write.successful", "webhook.consumer.disabled"], companyTags: ["region:eu"] });
    assert.equal(encodeCompanyTags([]), null);
    assert.equal(encodeCompanyTags(null), null);
    assert.equal(encodeCompanyTags(undefined), null);
    assert.equal(decodeSubscription({ event_types: "[]", company_tags: null }).companyTags, null);
  });

  test("secrets are stored sealed, and open for their own consumer only", () => {
    const stored = sealSigningSecret(box, consumer, "whsec_abc");
    assert.doesNotMatch(stored, /whsec_abc/);
    assert.equal(openSigningSecret(box, consumer, stored), "whsec_abc");
    assert.throws(() => openSigningSecret(box, other, stored), /The consumer's signing secret cannot be decrypted/);
  });

  test("no headers and no rotated-out secrets are stored as null, and read back empty", () => {
    assert.equal(sealCustomHeaders(box, consumer, {}), null);
    assert.equal(sealPreviousSecrets(box, consumer, []), null);
    assert.deepEqual(openCustomHeaders(box, consumer, null), {});
    assert.deepEqual(openPreviousSecrets(box, consumer, null), []);
  });

  test("headers and rotated-out secrets read back as written", () => {
    const headers = { Authorization: "Bearer 0123456789", "X-Tenant": "acme" };
    assert.deepEqual(openCustomHeaders(box, consumer, sealCustomHeaders(box, consumer, headers)), headers);
    const previous = [{ key: "whsec_old", expiresAt: 1_723_541_400_000 }];
    assert.deepEqual(openPreviousSecrets(box, consumer, sealPreviousSecrets(box, consumer, previous)), previous);
  });

  test("values written in plaintext by a release before encryption at rest are read as they are", () => {
    assert.equal(openSigningSecret(box, consumer, "whsec_plain"), "whsec_plain");
    assert.deepEqual(openCustomHeaders(box, consumer, '{"X-Tenant":"acme"}'), { "X-Tenant": "acme" });
  });

  test("a value re-sealed under a new first key opens with that key alone", () => {
    const oldKey = key();
    const newKey = key();
    const stored = sealSigningSecret(new SecretBox([oldKey]), consumer, "whsec_abc");
    const again = resealed(new SecretBox([newKey, oldKey]), "signing_secret", consumer, stored);
    assert.equal(openSigningSecret(new SecretBox([newKey]), consumer, again), "whsec_abc");
    assert.throws(() => openSigningSecret(new SecretBox([newKey]), consumer, stored), /HOOKLINE_ENCRYPTION_KEY must list the key it was sealed with/);
  });
});
