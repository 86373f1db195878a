/** What a consumer's custom headers may be, and how they are shown, without a database. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RESERVED_HEADER_NAMES } from "../../src/constants/limits.ts";
import { headerErrors, maskedHeaders, mergedHeaders } from "../../src/domain/custom-header-rules.ts";

describe("custom header rules", () => {
  test("values are shown masked: the last 4 characters of values of 12 or more, nothing of shorter ones", () => {
    assert.deepEqual(maskedHeaders({ Authorization: "Bearer 0123456789", "X-Tenant": "acme" }), {
      headers: { Authorization: "****6789", "X-Tenant": "****" },
    });
    assert.deepEqual(maskedHeaders({ A: "12345678901" }), { headers: { A: "****" } });
    assert.deepEqual(maskedHeaders({ A: "123456789012" }), { headers: { A: "****9012" } });
  });

  test("the signature headers and the ones that frame the request cannot be set, in any letter case", () => {
    for (const name of ["webhook-signature", "Webhook-Id", "Content-Type", "Host", "Transfer-Encoding"]) {
      assert.ok(RESERVED_HEADER_NAMES.has(name.toLowerCase()));
      const [error] = headerErrors({ [name]: "x" });
      assert.match(error!.message!, /is set by Hookline and cannot be overridden/);
    }
  });

  test("errors name the header, never its value", () => {
    const errors = headerErrors({ "X-Secret": "token\r\nInjected: yes", "Bad Name": "s3cret" });
    assert.deepEqual(
      errors.map((error) => error.itemId),
      ["headers.X-Secret", "headers.Bad Name"],
    );
    for (const error of errors) assert.doesNotMatch(error.message!, /token|s3cret/);
    assert.deepEqual(headerErrors({ "X-Tenant": "acme" }), []);
  });

  test("a header given again in another letter case replaces the stored one", () => {
    assert.deepEqual(mergedHeaders({ "X-Tenant": "acme", Other: "1" }, { "x-tenant": "globex" }), { Other: "1", "x-tenant": "globex" });
  });
});
