/**
 * SSRF guard: consumer URLs are checked when saved and again at every
 * connect, so a destination that is (or becomes) private is never dialled
 * unless the operator allow-listed its range.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { firstStart, Harness, until } from "./support/serve-process.ts";

test("an allow-listed loopback consumer is refused at connect time once the operator removes the allow-list", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const receiver = await harness.receiver();
  const env = { HOOKLINE_RETRY_SCHEDULE: "none" };
  const allowed = await firstStart(harness, database.url, { env: { ...env, HOOKLINE_ALLOWED_CIDRS: "127.0.0.0/8" } });
  // localhost is a hostname, so this also proves names are resolved before they are judged.
  const byName = await allowed.api("POST", "/webhooks", { url: `http://localhost:${receiver.port}/by-name`, eventTypes: ["company.created"] });
  const byAddress = await allowed.api("POST", "/webhooks", { url: `http://127.0.0.1:${receiver.port}/by-address`, eventTypes: ["company.created"] });
  assert.equal(byName.status, 201);
  assert.equal(byAddress.status, 201);
  await allowed.api("POST", "/companies", { name: "Allowed" });
  await receiver.waitFor(2);
  assert.deepEqual(await allowed.server.stop(), { code: 0, signal: null });

  const strict = await harness.serve(database.url, { env: { ...env, HOOKLINE_ALLOWED_CIDRS: "" } });
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${strict.baseUrl}${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(allowed.apiKey).toString("base64")}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  assert.equal((await api("POST", "/companies", { name: "Refused" })).status, 200);

  const store = await harness.store(database.url);
  const failedAttempts = () => store.db.selectFrom("attempts").selectAll().where("succeeded", "=", 0).execute();
  await until("both refused attempts recorded", async () => (await failedAttempts()).length === 2 || "fewer than 2 failed attempts");
  const attempts = await failedAttempts();
  assert.equal(receiver.received.length, 2, "nothing reached the receiver after the allow-list was removed");
  for (const attempt of attempts) {
    assert.equal(attempt.status_code, null);
    assert.match(attempt.error ?? "", /refused/i);
  }
  const created = await api("POST", "/webhooks", { url: `http://localhost:${receiver.port}/again`, eventTypes: ["company.created"] });
  assert.equal(created.status, 400, "and the same URL cannot be saved any more");
});
