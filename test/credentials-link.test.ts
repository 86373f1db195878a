import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { stringify } from "yaml";
import { asId, type ConnectionId } from "../src/ids.ts";
import { SecretBox } from "../src/secret-box.ts";
import { findConnectionCredentials } from "../src/storage/connection-credentials.ts";
import { screenshot, skipWithoutBrowser, withBrowser } from "./support/browser.ts";
import { runCliWith } from "./support/cli.ts";
import { subscribe } from "./support/consumers.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { Receiver } from "./support/receiver.ts";
import { eventSchemaErrors } from "./support/schemas.ts";
import { basicAuth, startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

/** The password the verification server takes; "locked" is refused with 403, anything else with 401. */
const GOOD_PASSWORD = "open sesame 7f3a";

describe("credentials integrations: a form from the declared fields, checked by the operator's verification URL", () => {
  let server: TestServer;
  let receiver: Receiver;
  let verifier: Server;
  /** What the verification server was sent, in order. */
  const verified: Array<{ path: string; body: any }> = [];
  let folder: string;
  const encryptionKey = randomBytes(32).toString("base64");
  const secretBox = new SecretBox([encryptionKey]);

  before(async () => {
    verifier = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString() || "null");
        verified.push({ path: request.url ?? "", body });
        // Takes the connection and never answers: the attempt times out.
        if (request.url === "/slow") return;
        if (request.url === "/broken") return response.writeHead(500, { "content-type": "text/plain" }).end("stack trace the customer must not see");
        const password = body?.credentials?.password;
        if (password === GOOD_PASSWORD) return response.writeHead(204).end();
        if (password === "locked")
          return response.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ message: "This account is locked" }));
        response.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ message: "Wrong username or password" }));
      });
    });
    verifier.listen(0, "127.0.0.1");
    await once(verifier, "listening");
    const verifierUrl = `http://127.0.0.1:${(verifier.address() as { port: number }).port}`;
    const bank = (platformKey: string, name: string, credentials: Record<string, unknown>) => ({
      platformKey,
      name,
      sourceType: "Banking",
      kind: "credentials",
      credentials: {
        fields: [
          { name: "username", label: "Online banking ID" },
          { name: "password", label: "Password", secret: true },
        ],
        verifyUrl: `${verifierUrl}/verify`,
        ...credentials,
      },
    });
    folder = mkdtempSync(join(tmpdir(), "hookline-credentials-"));
    const file = join(folder, "integrations.yaml");
    writeFileSync(
      file,
      stringify({
        integrations: [
          bank("vaul", "Vault Bank", {}),
          bank("tran", "Transient Bank", { keepCredentials: false }),
          bank("slow", "Slow Bank", { verifyUrl: `${verifierUrl}/slow`, timeout: "300ms" }),
          bank("brok", "Broken Bank", { verifyUrl: `${verifierUrl}/broken` }),
          // The cloud metadata address: the SSRF guard refuses it (only loopback is allowed in these tests).
          bank("meta", "Metadata Bank", { verifyUrl: "http://169.254.169.254/verify" }),
        ],
      }),
    );
    server = await startTestServer({ encryptionKey, integrationsFile: file });
    receiver = await Receiver.start();
    await subscribe(server, receiver.url, { eventTypes: ["connection.connected", "connection.reconnected", "connection.disconnected", "connection.failed"] });
  });
  after(async () => {
    await server.close();
    await receiver.close();
    verifier.close();
    rmSync(folder, { recursive: true, force: true });
  });

  const newConnection = async (platformKey: string, companyName: string) => {
    const company = (await server.api("POST", "/companies", { name: companyName })).body;
    const connection = (await server.api("POST", `/companies/${company.id}/connections`, { platformKey })).body;
    return { company, connection };
  };
  const authorize = (company: { id: string }, connection: { id: string }, credentials: Record<string, unknown>) =>
    server.api("PUT", `/companies/${company.id}/connections/${connection.id}/authorization`, credentials);
  const eventsFor = (connectionId: string) =>
    receiver.received.map((webhook) => ({ webhook, event: JSON.parse(webhook.body) })).filter(({ event }) => event.payload?.connection?.id === connectionId);
  const awaitEvents = async (connectionId: string, eventType: string, count = 1) => {
    await until(
      `${count} ${eventType} for ${connectionId}`,
      async () => eventsFor(connectionId).filter(({ event }) => event.eventType === eventType).length,
      (n) => n >= count,
    );
    for (const { webhook } of eventsFor(connectionId)) assert.deepEqual(eventSchemaErrors(webhook.body), [], `${webhook.body} matches its Codat schema`);
    return eventsFor(connectionId).filter(({ event }) => event.eventType === eventType);
  };
  const storedCredentials = (connectionId: string) => findConnectionCredentials(server.hookline.ctx.store.db, asId<ConnectionId>(connectionId));

  test("credentials the verifier accepts link the connection; they are kept sealed and appear in no response, event or log", async () => {
    const { company, connection } = await newConnection("vaul", "Corner Grocer");
    const linked = await authorize(company, connection, { username: "grocer-42", password: GOOD_PASSWORD });
    assert.equal(linked.status, 200);
    assert.equal(linked.body.status, "Linked");
    assert.deepEqual(verified.at(-1), {
      path: "/verify",
      body: { platformKey: "vaul", companyId: company.id, connectionId: connection.id, credentials: { username: "grocer-42", password: GOOD_PASSWORD } },
    });
    await awaitEvents(connection.id, "connection.connected");

    const row = await storedCredentials(connection.id);
    assert.ok(row, "the credentials are kept for the data engine");
    assert.ok(!row.credentials.includes(GOOD_PASSWORD) && !row.credentials.includes("grocer-42"), "stored sealed");
    assert.deepEqual(JSON.parse(secretBox.open(row.credentials, "connection-credentials", connection.id)), { username: "grocer-42", password: GOOD_PASSWORD });
    const seen = receiver.received.map((webhook) => webhook.body).join("\n") + JSON.stringify(linked.body) + server.logs();
    assert.ok(!seen.includes(GOOD_PASSWORD), "the password is in no event, response or log line");

    // Unlinking forgets them: the customer links again to give them back.
    const unlinked = await server.api("PATCH", `/companies/${company.id}/connections/${connection.id}`, { status: "Unlinked" });
    assert.equal(unlinked.body.status, "Unlinked");
    assert.equal(await storedCredentials(connection.id), undefined);
  });

  test("an integration that keeps no credentials links without storing them", async () => {
    const { company, connection } = await newConnection("tran", "Night Market");
    const linked = await authorize(company, connection, { username: "market", password: GOOD_PASSWORD });
    assert.equal(linked.body.status, "Linked");
    assert.equal(await storedCredentials(connection.id), undefined);
  });

  test("401 and 403 from the verifier fail the attempt with its status and message; the connection stays PendingAuth", async () => {
    const { company, connection } = await newConnection("vaul", "Lantern Books");
    const wrong = await authorize(company, connection, { username: "lantern", password: "guess" });
    assert.equal(wrong.status, 200);
    assert.equal(wrong.body.status, "PendingAuth");
    assert.deepEqual(
      { statusCode: wrong.body.dataConnectionErrors.at(-1).statusCode, errorMessage: wrong.body.dataConnectionErrors.at(-1).errorMessage },
      { statusCode: "401", errorMessage: "Wrong username or password" },
    );
    const locked = await authorize(company, connection, { username: "lantern", password: "locked" });
    assert.deepEqual(
      { statusCode: locked.body.dataConnectionErrors.at(-1).statusCode, errorMessage: locked.body.dataConnectionErrors.at(-1).errorMessage },
      { statusCode: "403", errorMessage: "This account is locked" },
    );
    const failed = await awaitEvents(connection.id, "connection.failed", 2);
    assert.deepEqual(
      failed.map(({ event }) => event.payload.connection.dataConnectionErrors.at(-1).statusCode),
      ["401", "403"],
    );
    assert.equal(await storedCredentials(connection.id), undefined, "refused credentials are not kept");
  });

  test("a slow, failing or forbidden verifier fails the attempt with 504, its status, or 502", async () => {
    const cases = [
      { key: "slow", statusCode: "504", message: /did not answer within 300 ms/ },
      { key: "brok", statusCode: "500", message: /verification URL answered HTTP 500/ },
      { key: "meta", statusCode: "502", message: /not allowed/ },
    ];
    for (const { key, statusCode, message } of cases) {
      const { company, connection } = await newConnection(key, `Shop ${key}`);
      const answer = await authorize(company, connection, { username: "shop", password: GOOD_PASSWORD });
      assert.equal(answer.body.status, "PendingAuth", key);
      const error = answer.body.dataConnectionErrors.at(-1);
      assert.equal(error.statusCode, statusCode, key);
      assert.match(error.errorMessage, message, key);
      assert.ok(!error.errorMessage.includes("stack trace"), "the verifier's body on a 5xx is not shown");
      await awaitEvents(connection.id, "connection.failed");
    }
  });

  test("credentials missing a declared field, or with one it does not declare, are a 400 that asks no verifier and changes nothing", async () => {
    const { company, connection } = await newConnection("vaul", "Quiet Tailor");
    const before = verified.length;
    assertErrorMessage(await authorize(company, connection, { username: "tailor" }), 400, "missing password", /needs password \(Password\)/);
    assertErrorMessage(
      await authorize(company, connection, { username: "tailor", password: GOOD_PASSWORD, pin: "1234" }),
      400,
      "unknown field",
      /unknown: pin/,
    );
    assert.equal(verified.length, before, "the verifier was not asked");
    const unchanged = (await server.api("GET", `/companies/${company.id}/connections/${connection.id}`)).body;
    assert.equal(unchanged.status, "PendingAuth");
    assert.deepEqual(unchanged.dataConnectionErrors ?? [], []);
  });

  describe("the operator API, for the operator's data engine", () => {
    let token: string;
    before(async () => {
      const created = JSON.parse(
        (await runCliWith({ HOOKLINE_ENCRYPTION_KEY: encryptionKey }, server.database.url, "operator-tokens", "create", "data engine")).stdout,
      );
      token = created.token;
      assert.match(token, /^hlop_/);
    });
    const operator = async (method: string, path: string, body?: unknown, authorization = `Bearer ${token}`) => {
      const response = await fetch(`${server.baseUrl}/operator${path}`, {
        method,
        headers: { authorization, ...(body !== undefined && { "content-type": "application/json" }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return { status: response.status, headers: response.headers, body: await response.json() };
    };

    test("reads a Linked connection's credentials; an unknown token or a client's API key is a 401, other ids a 404, an unlinked connection a 409", async () => {
      const { company, connection } = await newConnection("vaul", "Harbour Chandlery");
      const path = `/companies/${company.id}/connections/${connection.id}/access`;
      assertErrorMessage(await operator("GET", path), 409, "PendingAuth holds no access", /PendingAuth/);
      await authorize(company, connection, { username: "chandler", password: GOOD_PASSWORD });
      const access = await operator("GET", path);
      assert.equal(access.status, 200);
      assert.deepEqual(access.body, {
        companyId: company.id,
        connectionId: connection.id,
        platformKey: "vaul",
        kind: "credentials",
        credentials: { username: "chandler", password: GOOD_PASSWORD },
      });
      assertErrorMessage(await operator("GET", path, undefined, "Bearer hlop_not-a-token"), 401, "unknown token", /Bearer <operator token>/);
      assertErrorMessage(await operator("GET", path, undefined, basicAuth(server.apiKey)), 401, "a client's API key");
      assertErrorMessage(await operator("GET", path, undefined, ""), 401, "no token");
      const other = await newConnection("vaul", "Another Company");
      assertErrorMessage(await operator("GET", `/companies/${other.company.id}/connections/${connection.id}/access`), 404, "another company's id");
      // The operator token is no client's API key either.
      assert.equal((await fetch(`${server.baseUrl}/companies`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
      assert.ok(!server.logs().includes(token), "the operator token is in no log line");
    });

    test("reporting revoked access makes the connection Deauthorized with the source's status and message, emits connection.disconnected and forgets its credentials", async () => {
      const { company, connection } = await newConnection("vaul", "Lighthouse Cafe");
      await authorize(company, connection, { username: "cafe", password: GOOD_PASSWORD });
      const path = `/companies/${company.id}/connections/${connection.id}/deauthorize`;
      assertErrorMessage(await operator("POST", path, { statusCode: "ok", message: "x" }), 400, "a status that is no HTTP status");
      assertErrorMessage(await operator("POST", path, { statusCode: "401" }), 400, "no message");
      assert.equal((await server.api("GET", `/companies/${company.id}/connections/${connection.id}`)).body.status, "Linked", "bad input changes nothing");

      const reported = await operator("POST", path, { statusCode: "401", statusText: "Unauthorized", message: "Password changed at Vault Bank" });
      assert.equal(reported.status, 200);
      assert.equal(reported.body.status, "Deauthorized");
      const [disconnected] = await awaitEvents(connection.id, "connection.disconnected");
      assert.deepEqual(
        (({ statusCode, statusText, errorMessage, status }) => ({ statusCode, statusText, errorMessage, status }))(
          disconnected!.event.payload.connection.dataConnectionErrors.at(-1),
        ),
        { statusCode: "401", statusText: "Unauthorized", errorMessage: "Password changed at Vault Bank", status: "Active" },
      );
      assert.equal(await storedCredentials(connection.id), undefined, "the refused credentials are forgotten");
      assertErrorMessage(await operator("POST", path, { statusCode: "401", message: "again" }), 409, "already Deauthorized", /Deauthorized/);

      // The customer enters the new password on the link page's form (here, through the API): reconnected.
      const relinked = await authorize(company, connection, { username: "cafe", password: GOOD_PASSWORD });
      assert.equal(relinked.body.status, "Linked");
      await awaitEvents(connection.id, "connection.reconnected");
    });

    test("operator-tokens list shows tokens by id and name, never the token; a revoked token is refused from the next request on; a blank name is refused", async () => {
      const operatorCli = async (...args: string[]) => runCliWith({ HOOKLINE_ENCRYPTION_KEY: encryptionKey }, server.database.url, "operator-tokens", ...args);
      const created = JSON.parse((await operatorCli("create", "nightly sync")).stdout);
      const { company, connection } = await newConnection("vaul", "Quayside Bakery");
      await authorize(company, connection, { username: "baker", password: GOOD_PASSWORD });
      const path = `/companies/${company.id}/connections/${connection.id}/access`;
      assert.equal((await operator("GET", path, undefined, `Bearer ${created.token}`)).status, 200);

      const listed = JSON.parse((await operatorCli("list", "--json")).stdout);
      assert.deepEqual(
        listed.map((entry: { name: string }) => entry.name),
        ["data engine", "nightly sync"],
      );
      assert.equal(listed[1].id, created.id);
      assert.ok(!Number.isNaN(Date.parse(listed[1].createdAt)));
      const table = (await operatorCli("list")).stdout;
      assert.match(table, /^ID\s+NAME\s+CREATED/);
      assert.match(table, new RegExp(`${created.id}\\s+nightly sync`));
      assert.ok(!table.includes(created.token) && !JSON.stringify(listed).includes(created.token), "a token is never listed");

      assert.match((await operatorCli("revoke", created.id)).stdout, new RegExp(`Revoked ${created.id}`));
      assertErrorMessage(await operator("GET", path, undefined, `Bearer ${created.token}`), 401, "a revoked token");
      assert.equal((await operator("GET", path)).status, 200, "the other token still works");
      assert.deepEqual(
        JSON.parse((await operatorCli("list", "--json")).stdout).map((entry: { name: string }) => entry.name),
        ["data engine"],
      );
      await assert.rejects(operatorCli("revoke", created.id), (error: { stderr: string }) => /Operator token not found/.test(error.stderr));
      await assert.rejects(operatorCli("create", "  "), (error: { stderr: string }) => /needs a name/.test(error.stderr), "a blank name is refused");
      assert.deepEqual(
        JSON.parse((await operatorCli("list", "--json")).stdout).map((entry: { name: string }) => entry.name),
        ["data engine"],
        "and no token was made",
      );
    });
  });

  describe("in a browser", { skip: skipWithoutBrowser }, () => {
    let browser: Browser;
    const closers: Array<() => Promise<void>> = [];
    before(async () => {
      browser = await withBrowser({ after: (close: () => Promise<void>) => void closers.push(close) });
    });
    after(async () => {
      for (const close of closers) await close();
    });

    test("the link page asks for the declared fields; a refusal shows the verifier's message, and the right password links", async () => {
      const { company, connection } = await newConnection("vaul", "Riverside Deli");
      // The client's name and logo head the form and the result page (here a logo on Hookline's own origin).
      const logoUrl = (await server.api("GET", "/integrations/vaul")).body.logoUrl;
      assert.equal((await server.api("PUT", "/profile", { name: "Riverside Lending", redirectUrl: "", logoUrl })).status, 200);
      const page = await (await browser.newContext()).newPage();
      await page.goto(connection.linkUrl);
      assert.equal(await page.locator("#client-name").textContent(), "Riverside Lending");
      assert.ok(await page.locator("#client-logo").evaluate((image: HTMLImageElement) => image.complete && image.naturalWidth > 0), "the logo loaded");
      assert.equal(await page.locator("label[for=field-username]").textContent(), "Online banking ID");
      assert.equal(await page.locator("#field-password").getAttribute("type"), "password", "a secret field hides what is typed");
      await page.fill("#field-username", "deli");
      await page.fill("#field-password", "not it");
      await screenshot(page, "credentials-form");
      await page.click("#authorize");
      await page.waitForSelector("text=What happened");
      assert.match((await page.textContent("body")) ?? "", /Wrong username or password \(401\)/);
      assert.equal(await page.locator("#client-name").textContent(), "Riverside Lending");
      await screenshot(page, "credentials-refused");

      await page.goto(connection.linkUrl);
      await page.fill("#field-username", "deli");
      await page.fill("#field-password", GOOD_PASSWORD);
      await page.click("#authorize");
      await page.waitForSelector("text=now connected");
      await screenshot(page, "credentials-linked");
      assert.equal((await server.api("GET", `/companies/${company.id}/connections/${connection.id}`)).body.status, "Linked");
      assert.deepEqual(verified.at(-1)!.body.credentials, { username: "deli", password: GOOD_PASSWORD });
      await awaitEvents(connection.id, "connection.connected");
    });
  });
});
