import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SANDBOX_CREDENTIALS } from "../src/integrations/sandbox/sandbox.ts";
import { screenshot, skipWithoutBrowser } from "./support/browser.ts";
import { settledMessages } from "./support/messages.ts";
import { assertAccessible, portalSuite, signIn, watchConsole } from "./support/portal.ts";

describe("the portal's legacy migration page", { skip: skipWithoutBrowser }, () => {
  const suite = portalSuite();

  test("lists the legacy consumer, expands it, reports the missing event type, switches and contracts; a change without the token is refused", async () => {
    const legacy = (
      await suite.server.api("POST", "/webhooks", { url: suite.receiver.url, eventTypes: ["DataConnectionStatusChanged", "Sync Connection Deleted"] })
    ).body;
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const consoleErrors = watchConsole(page);
    await signIn(page, suite.server.baseUrl, suite.server.apiKey);
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
    assert.equal((await suite.server.api("GET", "/webhooks/migration")).body.results[0].migration.state, "legacy", "nothing changed");
    await page.click("button:has-text('Create replacement in shadow mode')");
    await page.waitForSelector("#steps");
    assert.equal(await page.textContent("#state"), "Shadow");
    assert.match((await page.textContent(".notice")) ?? "", /Replacement created in shadow mode/);

    const { replacementWebhookId } = (await suite.server.api("GET", "/webhooks/migration")).body.results[0].migration;
    await suite.server.api("PATCH", `/webhooks/${replacementWebhookId}`, { eventTypes: ["connection.created", "connection.connected"] });
    const company = (await suite.server.api("POST", "/companies", { name: "Toft stores" })).body;
    const connection = (await suite.server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
    const path = `/companies/${company.id}/connections/${connection.id}`;
    await suite.server.api("PUT", `${path}/authorization`, SANDBOX_CREDENTIALS);
    await suite.server.api("DELETE", path);
    await suite.receiver.waitFor(4);
    await settledMessages(suite.server, replacementWebhookId, 2);

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
    assert.equal((await suite.server.api("GET", `/webhooks/${legacy.id}`)).body.disabled, true);
    await screenshot(page, "portal-migration-switched");
    await page.click("text=Contract: delete the legacy consumer");
    await page.waitForSelector("text=Delete the legacy consumer?");
    await assertAccessible(page, "confirm-contract");
    await screenshot(page, "portal-migration-confirm-contract");
    await page.click("text=Keep it");
    await page.waitForSelector("text=Contract: delete the legacy consumer");
    assert.equal((await suite.server.api("GET", `/webhooks/${legacy.id}`)).status, 200, "kept when not confirmed");
    await page.click("text=Contract: delete the legacy consumer");
    await page.click("button:has-text('Delete the legacy consumer')");
    await page.waitForSelector("text=Legacy consumer deleted");
    assert.equal((await suite.server.api("GET", `/webhooks/${legacy.id}`)).status, 404);
    assert.match((await page.textContent("main")) ?? "", /nothing to migrate/);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${suite.server.baseUrl}/portal/migration`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `the page fits a phone's width (overflows by ${overflow}px)`);
    assert.deepEqual(consoleErrors, [], "no script error and no CSP refusal");
  });
});
