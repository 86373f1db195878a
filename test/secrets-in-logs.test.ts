/**
 * One full run at debug log level that handles every kind of secret Hookline
 * keeps (API keys, signing secrets old and new, custom header values, an mTLS
 * private key and the key that encrypts it, sandbox credentials), including
 * requests that fail because of them. None may appear in the logs or in an
 * error answer.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { CertificateAuthority } from "./support/certificates.ts";
import { subscribe } from "./support/consumers.ts";
import { withReceiver } from "./support/receiver.ts";
import { callApi, withServer } from "./support/server.ts";

test("secrets never appear in the logs of a full run nor in error messages", async (t) => {
  const encryptionKey = randomBytes(32).toString("base64");
  const server = await withServer(t, { encryptionKey, retrySchedule: "50ms" });
  const receiver = await withReceiver(t, (index, _webhook, response) => response.writeHead(index === 0 ? 500 : 204).end());
  const secrets: string[] = [server.apiKey, encryptionKey];
  const errors: string[] = [];
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await server.api(method, path, body);
    if (response.status >= 400) errors.push(JSON.stringify(response.body));
    return response;
  };

  const second = await api("POST", "/apiKeys", { name: "second" });
  secrets.push(second.body.apiKey);
  const wrongKey = `${server.apiKey.slice(0, -4)}abcd`;
  const refused = await callApi(server.baseUrl, wrongKey, "GET", "/companies");
  assert.equal(refused.status, 401);
  errors.push(JSON.stringify(refused.body));
  secrets.push(wrongKey);

  const consumerId = await subscribe(server, receiver.url, { eventTypes: ["company.created", "connection.failed", "connection.connected"] });
  secrets.push((await api("GET", `/webhooks/${consumerId}/secret`)).body.key);
  secrets.push((await api("POST", `/webhooks/${consumerId}/secret/rotate`)).body.key);
  const headerValue = `Bearer ${randomBytes(18).toString("hex")}`;
  secrets.push(headerValue);
  assert.equal((await api("PUT", `/webhooks/${consumerId}/headers`, { headers: { Authorization: headerValue } })).status, 200);
  const badHeaderValue = `secret-${randomBytes(8).toString("hex")}\r\nX-Injected: 1`;
  secrets.push(badHeaderValue.split("\r")[0]!);
  assert.equal((await api("PUT", `/webhooks/${consumerId}/headers`, { headers: { Authorization: badHeaderValue } })).status, 400);

  const client = CertificateAuthority.create("Logs CA").issue("hookline-client", "client");
  assert.equal((await api("PUT", `/webhooks/${consumerId}/mtls`, { privateKey: client.privateKey, certificate: client.certificate })).status, 200);
  secrets.push(client.privateKey.split("\n")[5]!);
  assert.equal((await api("DELETE", `/webhooks/${consumerId}/mtls`)).status, 204);
  const mismatched = CertificateAuthority.create("Other CA").issue("other", "client");
  assert.equal((await api("PUT", `/webhooks/${consumerId}/mtls`, { privateKey: mismatched.privateKey, certificate: client.certificate })).status, 400);
  secrets.push(mismatched.privateKey.split("\n")[5]!);

  const company = (await api("POST", "/companies", { name: "Secretive" })).body;
  const connection = (await api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
  const wrongPassword = `guess-${randomBytes(6).toString("hex")}`;
  secrets.push(wrongPassword, "sandbox-password");
  await api("PUT", `/companies/${company.id}/connections/${connection.id}/authorization`, { username: "sandbox", password: wrongPassword });
  await api("PUT", `/companies/${company.id}/connections/${connection.id}/authorization`, { username: "sandbox", password: "sandbox-password" });

  // A failed first attempt and its retry, so the worker logs both outcomes; every delivery carries the custom header.
  const webhooks = await receiver.waitFor(4);
  assert.ok(webhooks.every((webhook) => webhook.headers.authorization === headerValue));

  const logs = server.logs();
  assert.ok(logs.includes('"delivery attempt"') && logs.includes("correlationId"), "the run was logged at debug level");
  for (const secret of secrets) {
    assert.ok(!logs.includes(secret), `a secret (${secret.slice(0, 4)}...) appears in the logs`);
    for (const error of errors) assert.ok(!error.includes(secret), `a secret (${secret.slice(0, 4)}...) appears in the error ${error}`);
  }
  assert.ok(!logs.includes("PRIVATE KEY"), "no PEM key in the logs");
});
