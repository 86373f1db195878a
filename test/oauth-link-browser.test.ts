import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { stringify } from "yaml";
import { asId, type ConnectionId } from "../src/ids.ts";
import { SecretBox } from "../src/secret-box.ts";
import { findConnectionTokens } from "../src/storage/connection-tokens.ts";
import { screenshot, skipWithoutBrowser, withBrowser } from "./support/browser.ts";
import { runCliWith } from "./support/cli.ts";
import { subscribe } from "./support/consumers.ts";
import { startOAuthServer, type OAuthServer } from "./support/oauth-provider.ts";
import { Receiver } from "./support/receiver.ts";
import { eventSchemaErrors } from "./support/schemas.ts";
import { freePort, startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

describe("OAuth 2.0 integrations against a real authorization server, in a browser", { skip: skipWithoutBrowser }, () => {
  let server: TestServer;
  let oauth: OAuthServer;
  let receiver: Receiver;
  let browser: Browser;
  let silent: Server;
  /** A token endpoint in front of the provider's that can be made to answer 503 for a while. */
  let flaky: HttpServer;
  let flakyDown = false;
  let folder: string;
  let integrationsFile: string;
  const encryptionKey = randomBytes(32).toString("base64");
  const secretBox = new SecretBox([encryptionKey]);

  before(async () => {
    const port = await freePort();
    oauth = await startOAuthServer(`http://127.0.0.1:${port}/link/oauth/callback`);
    // A token endpoint that takes the connection and never answers, and a port nothing listens on.
    silent = createServer(() => undefined).listen(0, "127.0.0.1");
    await once(silent, "listening");
    const closedPort = await freePort();
    flaky = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", async () => {
        // /down/token links (it passes the code exchange on) and then never refreshes again.
        const down = request.url === "/down/token" && /grant_type=refresh_token/.test(Buffer.concat(chunks).toString());
        if (flakyDown || down) return response.writeHead(503, { "content-type": "text/plain" }).end("Service Unavailable");
        const answer = await fetch(oauth.tokenUrl, {
          method: "POST",
          headers: { authorization: request.headers.authorization ?? "", "content-type": request.headers["content-type"] ?? "" },
          body: Buffer.concat(chunks),
        });
        response.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" }).end(await answer.text());
      });
    });
    flaky.listen(0, "127.0.0.1");
    await once(flaky, "listening");
    folder = mkdtempSync(join(tmpdir(), "hookline-integrations-"));
    writeFileSync(
      join(folder, "acme.svg"),
      '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30" fill="#c0392b"/></svg>',
    );
    const integration = (platformKey: string, name: string, oauth2: Record<string, unknown>, clientSecret = oauth.clientSecret) => ({
      platformKey,
      name,
      sourceType: "Accounting",
      kind: "oauth2",
      oauth2: {
        authorizeUrl: oauth.authorizeUrl,
        tokenUrl: oauth.tokenUrl,
        issuer: oauth.issuer,
        clientId: oauth.clientId,
        clientSecret: secretBox.seal(clientSecret, "integration-client-secret", platformKey),
        scopes: ["openid", "offline_access"],
        // oidc-provider grants offline_access (a refresh token) only with prompt=consent.
        authorizeParams: { prompt: "consent" },
        ...oauth2,
      },
    });
    const file = join(folder, "integrations.yaml");
    integrationsFile = file;
    writeFileSync(
      file,
      stringify({
        integrations: [
          { ...integration("acme", "Acme Books", {}), logo: "acme.svg" },
          integration("badc", "Wrong Secret Books", {}, "not-the-client-secret"),
          integration("errp", "Silent Books", { authorizeParams: { prompt: "none" } }),
          integration("refu", "Refused Books", { tokenUrl: `http://127.0.0.1:${closedPort}/token` }),
          // The cloud metadata address: the SSRF guard refuses it (only loopback is allowed in these tests).
          integration("meta", "Metadata Books", { tokenUrl: "http://169.254.169.254/token" }),
          integration("flak", "Flaky Books", { tokenUrl: `http://127.0.0.1:${(flaky.address() as { port: number }).port}/token` }),
          integration("down", "Down Books", { tokenUrl: `http://127.0.0.1:${(flaky.address() as { port: number }).port}/down/token` }),
          integration("slow", "Slow Books", { tokenUrl: `http://127.0.0.1:${(silent.address() as { port: number }).port}/token`, timeout: "500ms" }),
        ],
      }),
    );
    server = await startTestServer({
      port: String(port),
      encryptionKey,
      integrationsFile: file,
      // Access tokens live 60 s at the provider: each is refreshed once it is 2 s old, looked for every 200 ms.
      tokenRefreshAhead: "58s",
      tokenRefreshInterval: "200ms",
      // Refreshes failing for a passing reason deauthorize after 10 s (an hour by default).
      tokenRefreshGrace: "10s",
    });
    receiver = await Receiver.start();
    await subscribe(server, receiver.url, {
      eventTypes: ["connection.created", "connection.connected", "connection.reconnected", "connection.disconnected", "connection.failed"],
    });
    const closers: Array<() => Promise<void>> = [];
    browser = await withBrowser({
      after(close: () => Promise<void>) {
        closers.push(close);
      },
    });
    closeBrowser = async () => {
      for (const close of closers) await close();
    };
  });
  let closeBrowser = async () => {};
  after(async () => {
    await closeBrowser();
    await server.close();
    await receiver.close();
    await oauth.close();
    silent.close();
    flaky.close();
    rmSync(folder, { recursive: true, force: true });
  });

  const newConnection = async (platformKey: string, companyName: string) => {
    const company = (await server.api("POST", "/companies", { name: companyName })).body;
    const connection = (await server.api("POST", `/companies/${company.id}/connections`, { platformKey })).body;
    return { company, connection };
  };
  const connectionOf = async (companyId: string, connectionId: string) => (await server.api("GET", `/companies/${companyId}/connections/${connectionId}`)).body;
  const eventsFor = (connectionId: string) =>
    receiver.received.map((webhook) => ({ webhook, event: JSON.parse(webhook.body) })).filter(({ event }) => event.payload?.connection?.id === connectionId);
  const eventTypes = (connectionId: string) => eventsFor(connectionId).map(({ event }) => event.eventType as string);
  const awaitEvent = (connectionId: string, eventType: string, count = 1) =>
    until(
      `${count} ${eventType} for ${connectionId}`,
      async () => eventTypes(connectionId).filter((type) => type === eventType).length,
      (n) => n >= count,
    );
  const assertEventsValid = (connectionId: string) => {
    for (const { webhook } of eventsFor(connectionId)) assert.deepEqual(eventSchemaErrors(webhook.body), [], `${webhook.body} matches its Codat schema`);
  };

  /** Opens the link page, goes on to the provider, signs in there and answers its consent page; ends on Hookline's outcome page. */
  async function linkAtProvider(page: Page, linkUrl: string, consent: "Continue" | "Cancel", shot: string): Promise<void> {
    await page.goto(linkUrl);
    await page.click("#continue");
    await page.waitForSelector("button[type=submit]");
    // Signed in at the provider already (linking again in the same browser), the customer only sees its consent page.
    if ((await page.locator("input[name=login]").count()) > 0) {
      await page.fill("input[name=login]", "customer");
      await page.fill("input[name=password]", "any password");
      await screenshot(page, `${shot}-provider-sign-in`);
      await page.click("button[type=submit]");
    }
    await page.waitForSelector("text=Continue");
    await screenshot(page, `${shot}-provider-consent`);
    if (consent === "Continue") await page.click("button[type=submit]");
    else await page.click("text=[ Cancel ]");
    await page.waitForURL(/\/link\/oauth\/callback/);
    await screenshot(page, `${shot}-outcome`);
  }

  test("the link page sends the customer to the provider; consent links the connection, its tokens are sealed, and the client hears connection.connected", async () => {
    const { company, connection } = await newConnection("acme", "Harbour Bakery");
    const page = await (await browser.newContext()).newPage();
    await page.goto(company.redirect);
    await screenshot(page, "oauth-company-page");
    const logo = page.locator('button[value="acme"] img');
    assert.equal(await logo.evaluate((image: HTMLImageElement) => image.naturalWidth), 64, "the operator's logo is served and shown");

    await page.goto(connection.linkUrl);
    assert.equal(await page.locator("#continue").textContent(), "Continue to Acme Books");
    await screenshot(page, "oauth-start");
    await linkAtProvider(page, connection.linkUrl, "Continue", "oauth-linked");
    assert.match((await page.textContent("h1")) ?? "", /now connected/);

    const linked = await connectionOf(company.id, connection.id);
    assert.equal(linked.status, "Linked");
    await awaitEvent(connection.id, "connection.connected");
    assertEventsValid(connection.id);

    const tokens = await findConnectionTokens(server.hookline.ctx.store.db, asId<ConnectionId>(connection.id));
    assert.ok(tokens, "the connection holds tokens");
    const accessToken = secretBox.open(tokens.access_token, "access-token", connection.id);
    assert.ok(await oauth.accepts(accessToken), "the access token Hookline holds is one the provider honours");
    assert.ok(!tokens.access_token.includes(accessToken), "stored sealed");
    const bodies = receiver.received.map((webhook) => webhook.body).join("\n") + JSON.stringify(linked) + server.logs();
    assert.ok(!bodies.includes(accessToken), "the access token is in no event, response or log line");
    assert.ok(!bodies.includes(oauth.clientSecret), "nor is the client secret");

    // The operator's data engine reads the same token through the operator API.
    const { token } = JSON.parse(
      (await runCliWith({ HOOKLINE_ENCRYPTION_KEY: encryptionKey }, server.database.url, "operator-tokens", "create", "engine")).stdout,
    );
    const access = await fetch(`${server.baseUrl}/operator/companies/${company.id}/connections/${connection.id}/access`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const accessBody = await access.json();
    assert.equal(accessBody.kind, "oauth2");
    // Refreshed every 2 s here, so perhaps not the token read above: one the provider honours.
    assert.ok(await oauth.accepts(accessBody.accessToken), "the operator API hands out a working access token");
    assert.ok(Date.parse(accessBody.expiresAt) > 0, "with its expiry");

    const branding = (await server.api("GET", "/integrations/acme/branding")).body;
    assert.equal((await fetch(branding.logo.square.image.src)).headers.get("content-type"), "image/svg+xml");
  });

  test("the access token is refreshed before it expires; a refresh token the provider revoked deauthorizes the connection, and linking again reconnects it", async () => {
    const { company, connection } = await newConnection("acme", "Quay Florists");
    const page = await (await browser.newContext()).newPage();
    await linkAtProvider(page, connection.linkUrl, "Continue", "oauth-refresh");
    const db = server.hookline.ctx.store.db;
    const first = (await findConnectionTokens(db, asId<ConnectionId>(connection.id)))!;
    const firstAccess = secretBox.open(first.access_token, "access-token", connection.id);
    const refreshed = await until(
      "a refreshed access token",
      async () => findConnectionTokens(db, asId<ConnectionId>(connection.id)),
      (row) => row !== undefined && secretBox.open(row.access_token, "access-token", connection.id) !== firstAccess,
    );
    assert.ok(await oauth.accepts(secretBox.open(refreshed!.access_token, "access-token", connection.id)), "the refreshed token works at the provider");
    assert.equal((await connectionOf(company.id, connection.id)).status, "Linked");

    // The customer removes Hookline's access at the provider.
    await oauth.revoke(secretBox.open(refreshed!.refresh_token!, "refresh-token", connection.id));
    await awaitEvent(connection.id, "connection.disconnected");
    const deauthorized = await connectionOf(company.id, connection.id);
    assert.equal(deauthorized.status, "Deauthorized");
    const error = deauthorized.dataConnectionErrors.at(-1);
    assert.equal(error.statusCode, "400");
    assert.equal(error.statusText, "invalid_grant");
    assert.equal(error.status, "Active");
    assert.equal(await findConnectionTokens(db, asId<ConnectionId>(connection.id)), undefined, "the refused tokens are forgotten");

    await linkAtProvider(page, connection.linkUrl, "Continue", "oauth-reconnect");
    await awaitEvent(connection.id, "connection.reconnected");
    const reconnected = await connectionOf(company.id, connection.id);
    assert.equal(reconnected.status, "Linked");
    assert.ok(
      reconnected.dataConnectionErrors.every((entry: { status: string }) => entry.status === "Resolved"),
      "the earlier error is resolved",
    );
    assertEventsValid(connection.id);
  });

  test("refreshes that fail for a passing reason (503) are tried again, the connection stays Linked, and a later refresh succeeds", async () => {
    const { company, connection } = await newConnection("flak", "Harbour Lights");
    const page = await (await browser.newContext()).newPage();
    await linkAtProvider(page, connection.linkUrl, "Continue", "oauth-flaky");
    const db = server.hookline.ctx.store.db;
    const id = asId<ConnectionId>(connection.id);
    const linkedAccess = secretBox.open((await findConnectionTokens(db, id))!.access_token, "access-token", connection.id);
    flakyDown = true;
    const failing = await until(
      "a refresh that failed",
      async () => findConnectionTokens(db, id),
      (row) => row?.refresh_failing_since !== null,
    );
    assert.equal(secretBox.open(failing!.access_token, "access-token", connection.id), linkedAccess, "the token it held is kept");
    assert.equal((await connectionOf(company.id, connection.id)).status, "Linked");
    flakyDown = false;
    const recovered = await until(
      "a refresh that succeeded",
      async () => findConnectionTokens(db, id),
      (row) => row?.refresh_failing_since === null,
    );
    assert.notEqual(secretBox.open(recovered!.access_token, "access-token", connection.id), linkedAccess);
    assert.deepEqual(eventTypes(connection.id), ["connection.created", "connection.connected"], "no disconnection was reported");
    assert.equal((await connectionOf(company.id, connection.id)).dataConnectionErrors.length, 0);
  });

  test("refreshes that keep failing for a passing reason past the grace period deauthorize the connection with the last failure", async () => {
    const { company, connection } = await newConnection("down", "Anchor Books");
    const page = await (await browser.newContext()).newPage();
    await linkAtProvider(page, connection.linkUrl, "Continue", "oauth-down");
    const id = asId<ConnectionId>(connection.id);
    await until(
      "a refresh that failed",
      async () => findConnectionTokens(server.hookline.ctx.store.db, id),
      (row) => row?.refresh_failing_since != null,
    );
    assert.equal((await connectionOf(company.id, connection.id)).status, "Linked", "a passing failure does not deauthorize at once");
    await awaitEvent(connection.id, "connection.disconnected");
    const deauthorized = await connectionOf(company.id, connection.id);
    assert.equal(deauthorized.status, "Deauthorized");
    assert.deepEqual(
      deauthorized.dataConnectionErrors.map((error: { statusCode: string; statusText: string }) => [error.statusCode, error.statusText]),
      [["503", "Service Unavailable"]],
    );
    assertEventsValid(connection.id);
  });

  test("denying consent at the provider fails the connection with 403 User cancelled linking", async () => {
    const { company, connection } = await newConnection("acme", "Dockside Deli");
    const page = await (await browser.newContext()).newPage();
    await linkAtProvider(page, connection.linkUrl, "Cancel", "oauth-denied");
    assert.match((await page.textContent("h1")) ?? "", /cancelled/);
    await awaitEvent(connection.id, "connection.failed");
    const failed = await connectionOf(company.id, connection.id);
    assert.equal(failed.status, "PendingAuth");
    assert.deepEqual([failed.dataConnectionErrors[0].statusCode, failed.dataConnectionErrors[0].statusText], ["403", "User cancelled linking"]);
    assertEventsValid(connection.id);
  });

  test("an error the provider sends back fails the connection with its code and description", async () => {
    const { company, connection } = await newConnection("errp", "Lighthouse Cafe");
    const page = await (await browser.newContext()).newPage();
    await page.goto(connection.linkUrl);
    await page.click("#continue");
    await page.waitForURL(/\/link\/oauth\/callback/);
    await screenshot(page, "oauth-provider-error");
    await awaitEvent(connection.id, "connection.failed");
    const error = (await connectionOf(company.id, connection.id)).dataConnectionErrors[0];
    assert.equal(error.statusText, "login_required");
    assert.match(error.errorMessage, /login|authentication|End-User/i);
    assertEventsValid(connection.id);
  });

  for (const [platformKey, statusCode, statusText, message] of [
    ["badc", "401", "invalid_client", /client authentication failed/i],
    ["refu", "502", "Bad Gateway", /connection refused/],
    ["slow", "504", "Gateway Timeout", /did not answer within 500 ms/],
    ["meta", "502", "Bad Gateway", /address is not allowed/],
  ] as const) {
    test(`a code exchange that fails (${platformKey}) fails the connection with ${statusCode} ${statusText}`, async () => {
      const { company, connection } = await newConnection(platformKey, `Pier ${platformKey}`);
      const page = await (await browser.newContext()).newPage();
      await linkAtProvider(page, connection.linkUrl, "Continue", `oauth-exchange-${platformKey}`);
      assert.match((await page.textContent("h1")) ?? "", /did not link your data/);
      await awaitEvent(connection.id, "connection.failed");
      const failed = await connectionOf(company.id, connection.id);
      assert.equal(failed.status, "PendingAuth");
      const error = failed.dataConnectionErrors[0];
      assert.deepEqual([error.statusCode, error.statusText], [statusCode, statusText]);
      assert.match(error.errorMessage, message);
      assertEventsValid(connection.id);
    });
  }

  test("a callback without a state, reused, or from another browser is refused with a page, and changes nothing", async () => {
    const { company, connection } = await newConnection("acme", "Ferry Books");
    const page = await (await browser.newContext()).newPage();
    await linkAtProvider(page, connection.linkUrl, "Continue", "oauth-for-replay");
    const callbackUrl = page.url();
    await awaitEvent(connection.id, "connection.connected");

    const missing = await page.goto(`${server.baseUrl}/link/oauth/callback?code=abc`);
    assert.equal(missing!.status(), 400);
    assert.match((await page.textContent("#reason")) ?? "", /without the state/);
    await screenshot(page, "oauth-callback-no-state");

    const reused = await page.goto(callbackUrl);
    assert.equal(reused!.status(), 400);
    assert.match((await page.textContent("#reason")) ?? "", /already used/);

    const unknown = await page.goto(`${server.baseUrl}/link/oauth/callback?code=abc&state=never-issued`);
    assert.equal(unknown!.status(), 400);
    assert.match((await page.textContent("#reason")) ?? "", /not one Hookline started/);

    // Another company's customer starts a sign-in; its state arrives in this browser instead.
    const other = await newConnection("acme", "Other Co");
    const otherPage = await (await browser.newContext()).newPage();
    await otherPage.goto(other.connection.linkUrl);
    const [authorize] = await Promise.all([otherPage.waitForRequest((request) => request.url().startsWith(oauth.authorizeUrl)), otherPage.click("#continue")]);
    const state = new URL(authorize.url()).searchParams.get("state")!;
    const foreign = await page.goto(`${server.baseUrl}/link/oauth/callback?code=abc&state=${encodeURIComponent(state)}`);
    assert.equal(foreign!.status(), 400);
    assert.match((await page.textContent("#reason")) ?? "", /another browser, or for another company's connection/);
    await screenshot(page, "oauth-callback-foreign");

    assert.equal((await connectionOf(other.company.id, other.connection.id)).status, "PendingAuth");
    assert.deepEqual(eventTypes(other.connection.id), ["connection.created"]);
    assert.deepEqual(eventTypes(connection.id), ["connection.created", "connection.connected"]);
    assert.equal((await connectionOf(company.id, connection.id)).dataConnectionErrors.length, 0);
  });

  test("a callback whose state has expired is refused with a page, and changes nothing", async (t) => {
    // A deployment that gives customers 1 ms to sign in: any callback comes too late. Its refresh job (which also
    // forgets expired sign-ins) first runs at start and then not for an hour, so the expired state is still there.
    const hurried = await startTestServer({ encryptionKey, integrationsFile, linkSignInTtl: "1ms", tokenRefreshInterval: "1h" });
    t.after(() => hurried.close());
    const hurriedReceiver = await Receiver.start();
    t.after(() => hurriedReceiver.close());
    await subscribe(hurried, hurriedReceiver.url, { eventTypes: ["connection.created", "connection.connected", "connection.failed"] });
    const company = (await hurried.api("POST", "/companies", { name: "Tidal Books" })).body;
    const connection = (await hurried.api("POST", `/companies/${company.id}/connections`, { platformKey: "acme" })).body;
    await until(
      "connection.created",
      async () => hurriedReceiver.received.length,
      (n) => n >= 1,
    );

    const page = await (await browser.newContext()).newPage();
    // The provider knows only the main server's callback: the customer is kept from going there, and comes back by hand.
    await page.route(`${oauth.authorizeUrl}**`, (route) => route.abort());
    await page.goto(connection.linkUrl);
    const [authorize] = await Promise.all([page.waitForRequest((request) => request.url().startsWith(oauth.authorizeUrl)), page.click("#continue")]);
    const state = new URL(authorize.url()).searchParams.get("state")!;
    const expired = await page.goto(`${hurried.baseUrl}/link/oauth/callback?code=abc&state=${encodeURIComponent(state)}`);
    assert.equal(expired!.status(), 400);
    assert.match((await page.textContent("#reason")) ?? "", /took too long and has expired/);
    await screenshot(page, "oauth-callback-expired");

    const unchanged = (await hurried.api("GET", `/companies/${company.id}/connections/${connection.id}`)).body;
    assert.equal(unchanged.status, "PendingAuth");
    assert.deepEqual(unchanged.dataConnectionErrors ?? [], []);
    // Anything the callback had recorded would be in the message log before the page answered.
    const messages = (await hurried.api("GET", "/messages")).body.results;
    assert.deepEqual(
      messages.map((message: { eventType: string }) => message.eventType).filter((type: string) => type.startsWith("connection.")),
      ["connection.created"],
    );
  });

  test("a callback of a sign-in begun from a link URL that a link reminder has since replaced is refused with a 410 page, and changes nothing", async () => {
    const { company, connection } = await newConnection("acme", "Estuary Books");
    const page = await (await browser.newContext()).newPage();
    // The customer begins the sign-in from the link URL it was sent; the provider is not reached, the state is kept.
    await page.route(`${oauth.authorizeUrl}**`, (route) => route.abort());
    await page.goto(connection.linkUrl);
    const [authorize] = await Promise.all([page.waitForRequest((request) => request.url().startsWith(oauth.authorizeUrl)), page.click("#continue")]);
    const state = new URL(authorize.url()).searchParams.get("state")!;
    const reminder = await server.api("POST", `/companies/${company.id}/connections/${connection.id}/link-reminder`);
    assert.equal(reminder.status, 200);
    assert.notEqual(reminder.body.linkUrl, connection.linkUrl);

    const replaced = await page.goto(`${server.baseUrl}/link/oauth/callback?code=abc&state=${encodeURIComponent(state)}`);
    assert.equal(replaced!.status(), 410);
    assert.match((await page.textContent("#reason")) ?? "", /replaced by a newer one/);
    await screenshot(page, "oauth-callback-replaced-link");

    const unchanged = await connectionOf(company.id, connection.id);
    assert.equal(unchanged.status, "PendingAuth");
    assert.deepEqual(unchanged.dataConnectionErrors ?? [], []);
    assert.deepEqual(eventTypes(connection.id), ["connection.created"]);

    // The link URL of the reminder links it.
    await page.unroute(`${oauth.authorizeUrl}**`);
    await linkAtProvider(page, reminder.body.linkUrl, "Continue", "oauth-linked-after-reminder");
    assert.equal((await connectionOf(company.id, connection.id)).status, "Linked");
  });
});
