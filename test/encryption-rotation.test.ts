import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { asId, type ConnectionId } from "../src/ids.ts";
import { SecretBox } from "../src/secret-box.ts";
import { screenshot, skipWithoutBrowser, withBrowser } from "./support/browser.ts";
import { runCliWith } from "./support/cli.ts";
import { startOAuthServer } from "./support/oauth-provider.ts";
import { firstStart, Harness } from "./support/serve-process.ts";
import { callApi, freePort } from "./support/server.ts";
import { until } from "./support/wait.ts";

const ALERT_AUTH = "Bearer alerts-before-rotation";

test(
  "`hookline encryption rotate` re-seals OAuth tokens, connection credentials, alert auth headers and sign-ins too: with the old key retired, tokens refresh, the operator API reads credentials and legacy alerts carry their header",
  { skip: skipWithoutBrowser },
  async (t) => {
    const harness = new Harness(t);
    const database = await harness.database();
    const [oldKey, nextKey] = [randomBytes(32).toString("base64"), randomBytes(32).toString("base64")];
    const port = await freePort();
    const oauth = await startOAuthServer(`http://127.0.0.1:${port}/link/oauth/callback`);
    t.after(() => oauth.close());
    // Takes any credentials: what is tested is that Hookline can still open the ones it kept.
    const verifier = createServer((request, response) => request.resume().on("end", () => response.writeHead(204).end()));
    verifier.listen(0, "127.0.0.1");
    await once(verifier, "listening");
    t.after(() => verifier.close());
    const folder = mkdtempSync(join(tmpdir(), "hookline-rotation-"));
    t.after(() => rmSync(folder, { recursive: true, force: true }));
    const file = join(folder, "integrations.yaml");
    // The client secret is sealed in the file, which rotation cannot rewrite: the operator seals it again under the new key.
    const writeFile = (key: string) =>
      writeFileSync(
        file,
        stringify({
          integrations: [
            {
              platformKey: "acme",
              name: "Acme Books",
              sourceType: "Accounting",
              kind: "oauth2",
              oauth2: {
                authorizeUrl: oauth.authorizeUrl,
                tokenUrl: oauth.tokenUrl,
                issuer: oauth.issuer,
                clientId: oauth.clientId,
                clientSecret: new SecretBox([key]).seal(oauth.clientSecret, "integration-client-secret", "acme"),
                scopes: ["openid", "offline_access"],
                authorizeParams: { prompt: "consent" },
              },
            },
            {
              platformKey: "vaul",
              name: "Vault Bank",
              sourceType: "Banking",
              kind: "credentials",
              credentials: {
                fields: [
                  { name: "username", label: "User" },
                  { name: "password", label: "Password", secret: true },
                ],
                verifyUrl: `http://127.0.0.1:${(verifier.address() as AddressInfo).port}/verify`,
              },
            },
          ],
        }),
      );
    writeFile(oldKey);
    // Access tokens live 60 s at the provider: each is refreshed once it is 2 s old.
    const settings = { HOOKLINE_INTEGRATIONS_FILE: file, HOOKLINE_TOKEN_REFRESH_AHEAD: "58s", HOOKLINE_TOKEN_REFRESH_INTERVAL: "200ms" };
    const alerts = await harness.receiver();

    const { server, api, apiKey } = await firstStart(harness, database.url, { port, env: { ...settings, HOOKLINE_ENCRYPTION_KEY: oldKey } });
    const profile = (await api("GET", "/profile")).body;
    assert.equal((await api("PUT", "/profile", { ...profile, alertAuthHeader: ALERT_AUTH })).status, 200);
    assert.equal((await api("POST", "/webhooks", { url: alerts.url, eventTypes: ["DataConnectionStatusChanged"] })).status, 201);
    const company = (await api("POST", "/companies", { name: "Rotation Traders" })).body;
    const banked = (await api("POST", `/companies/${company.id}/connections`, { platformKey: "vaul" })).body;
    const credentials = { username: "trader", password: "sealed under the old key" };
    assert.equal((await api("PUT", `/companies/${company.id}/connections/${banked.id}/authorization`, credentials)).body.status, "Linked");
    const booked = (await api("POST", `/companies/${company.id}/connections`, { platformKey: "acme" })).body;
    const browser = await withBrowser(t);
    const page = await (await browser.newContext()).newPage();
    await page.goto(booked.linkUrl);
    await page.click("#continue");
    await page.fill("input[name=login]", "customer");
    await page.fill("input[name=password]", "any password");
    await page.click("button[type=submit]");
    await page.waitForSelector("text=Continue");
    await page.click("button[type=submit]");
    await page.waitForURL(/\/link\/oauth\/callback/);
    await screenshot(page, "rotation-oauth-linked");
    assert.equal((await api("GET", `/companies/${company.id}/connections/${booked.id}`)).body.status, "Linked");
    assert.deepEqual(await server.stop(), { code: 0, signal: null });

    const store = await harness.store(database.url);
    const tokensOf = () =>
      store.db
        .selectFrom("connection_tokens")
        .select(["access_token", "refresh_token", "updated_at"])
        .where("connection_id", "=", asId<ConnectionId>(booked.id))
        .executeTakeFirstOrThrow();
    const sealedValues = async () => [
      ...Object.values(await tokensOf()).filter((value): value is string => typeof value === "string"),
      ...(await store.db.selectFrom("connection_credentials").select("credentials").execute()).map((row) => row.credentials),
      ...(await store.db.selectFrom("client_profiles").select("alert_auth_header").execute()).map((row) => row.alert_auth_header!),
      ...(await store.db.selectFrom("link_attempts").select("code_verifier").execute()).map((row) => row.code_verifier),
    ];
    const nextBox = new SecretBox([nextKey]);
    assert.ok(
      (await sealedValues()).every((value) => !nextBox.sealsAsCurrent(value)),
      "all sealed under the old key before the rotation",
    );

    const { stdout } = await runCliWith({ HOOKLINE_ENCRYPTION_KEY: `${nextKey},${oldKey}` }, database.url, "encryption", "rotate");
    assert.match(stdout, /2 OAuth tokens, 1 sets of connection credentials, 1 alert auth headers, 1 sign-ins in progress/);
    assert.ok(
      (await sealedValues()).every((value) => nextBox.sealsAsCurrent(value)),
      "all sealed under the new key after it",
    );

    // The old key retired: the new one alone, and the client secret sealed again for it.
    writeFile(nextKey);
    const restartedAt = Date.now();
    const rotated = await harness.serve(database.url, { port, env: { ...settings, HOOKLINE_ENCRYPTION_KEY: nextKey } });
    const refreshed = await until("a token refresh under the new key alone", tokensOf, (tokens) => tokens.updated_at > restartedAt);
    assert.ok(await oauth.accepts(nextBox.open(refreshed.access_token, "access-token", booked.id)), "the provider honours the refreshed token");

    const operatorToken = JSON.parse(
      (await runCliWith({ HOOKLINE_ENCRYPTION_KEY: nextKey, HOOKLINE_INTEGRATIONS_FILE: file }, database.url, "operator-tokens", "create", "engine")).stdout,
    ).token;
    const operator = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${rotated.baseUrl}/operator/companies/${company.id}/connections${path}`, {
        method,
        headers: { authorization: `Bearer ${operatorToken}`, ...(body !== undefined && { "content-type": "application/json" }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: await response.json() };
    };
    const access = await operator("GET", `/${banked.id}/access`);
    assert.equal(access.status, 200);
    assert.deepEqual(access.body.credentials, credentials);

    // A status change after the rotation: the legacy alert carries the profile's header, opened under the new key.
    const before = alerts.received.length;
    assert.equal((await operator("POST", `/${booked.id}/deauthorize`, { statusCode: "401", message: "Revoked at Acme" })).status, 200);
    const received = await alerts.waitFor(before + 1);
    const alert = received.at(-1)!;
    assert.match(alert.body, /Deauthorized/);
    assert.equal(alert.headers.authorization, ALERT_AUTH);
    assert.equal((await callApi(rotated.baseUrl, apiKey, "GET", "/profile")).body.alertAuthHeader, ALERT_AUTH);
  },
);
