import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { SANDBOX_CREDENTIALS } from "../src/integrations/sandbox/sandbox.ts";
import { screenshot, skipWithoutBrowser, withBrowser } from "./support/browser.ts";
import { settledMessages } from "./support/messages.ts";
import { assertAccessible, signIn, watchConsole } from "./support/portal.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

describe("the portal's legacy migration page", { skip: skipWithoutBrowser }, () => {
  let server: TestServer;
  let legacyReceiver: Receiver;
  let browser: Browser;
  before(async () => {
    server = await startTestServer();
    legacyReceiver = await Receiver.start();
    browser = await withBrowser({ after: () => undefined });
  });
  after(async () => {
    await browser.close();
    await server.close();
    await legacyReceiver.close();
  });

  test("lists the legacy consumer, expands it, reports the missing event type, switches and contracts; a change without the token is refused", async () => {
    const legacy = (await server.api("POST", "/webhooks", { url: legacyReceiver.url, eventTypes: ["DataConnectionStatusChanged", "Sync Connection Deleted"] }))
      .body;
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const consoleErrors = watchConsole(page);
    await signIn(page, server.baseUrl, server.apiKey);
    await page.click("text=Legacy migration");
    await page.waitForSelector("#candidates");
    assert.match((await page.textContent("#candidates tbody")) ?? "", /DataConnectionStatusChanged, Sync Connection Deleted.*Not started/s);
    await assertAccessible(page, "migration");
    await screenshot(page, "portal-migration");

    await page.click(`a[href='/portal/migration/${legacy.id}']`);
    await page.waitForSelector("button:has-text('Create replacement in shadow mode')");
    const refused = await page.evaluate(
      async (path) => (await fetch(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "" })).status,
      `/portal/migration/${legacy.id}/expand`,
    );
    assert.equal(refused, 403, "no CSRF token: refused");
    assert.equal((await server.api("GET", "/webhooks/migration")).body.results[0].migration.state, "legacy", "nothing changed");
    await page.click("button:has-text('Create replacement in shadow mode')");
    await page.waitForSelector("#steps");
    assert.equal(await page.textContent("#state"), "Shadow");
    assert.match((await page.textContent(".notice")) ?? "", /Replacement created in shadow mode/);

    const { replacementWebhookId } = (await server.api("GET", "/webhooks/migration")).body.results[0].migration;
    await server.api("PATCH", `/webhooks/${replacementWebhookId}`, { eventTypes: ["connection.created", "connection.connected"] });
    const company = (await server.api("POST", "/companies", { name: "Toft stores" })).body;
    const connection = (await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
    const path = `/companies/${company.id}/connections/${connection.id}`;
    await server.api("PUT", `${path}/authorization`, SANDBOX_CREDENTIALS);
    await server.api("DELETE", path);
    await legacyReceiver.waitFor(4);
    await settledMessages(server, replacementWebhookId, 2);

    await page.reload();
    await page.waitForSelector("#coverage");
    assert.equal(await page.textContent("#matched"), "2");
    assert.equal(await page.textContent("#legacy-only"), "2");
    assert.match((await page.textContent("#coverage")) ?? "", /missed 2 changes/);
    assert.match((await page.textContent("#legacy-only-types")) ?? "", /Sync Connection Deleted \(from connection\.deleted\)/);
    await assertAccessible(page, "migration-report");
    await screenshot(page, "portal-migration-report");

    await page.click("button:has-text('Switch to the replacement')");
    await page.waitForSelector("text=Contract: delete the legacy consumer");
    assert.equal(await page.textContent("#state"), "Switched");
    assert.equal((await server.api("GET", `/webhooks/${legacy.id}`)).body.disabled, true);
    await screenshot(page, "portal-migration-switched");
    await page.click("button:has-text('Contract: delete the legacy consumer')");
    await page.waitForSelector("text=Legacy consumer deleted");
    assert.equal((await server.api("GET", `/webhooks/${legacy.id}`)).status, 404);
    assert.match((await page.textContent("main")) ?? "", /nothing to migrate/);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.baseUrl}/portal/migration`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `the page fits a phone's width (overflows by ${overflow}px)`);
    assert.deepEqual(consoleErrors, [], "no script error and no CSP refusal");
  });
});
