import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Page } from "playwright-core";
import { screenshot, skipWithoutBrowser } from "./support/browser.ts";
import { assertAccessible, portalSuite, signIn, watchConsole } from "./support/portal.ts";

const RESHAPE = `function handler(webhook) {
  console.log("reshaping " + webhook.eventType);
  webhook.payload = { text: "Hello from " + webhook.eventType, original: webhook.payload.id };
  return webhook;
}`;

/** Replaces the editor's code, as typing would. */
const writeCode = (page: Page, code: string) => page.fill("#transformation-code", code);

describe("a consumer's transformation in the portal", { skip: skipWithoutBrowser }, () => {
  const suite = portalSuite();

  test("write, test on an example and on a pasted payload, save, disable and delete: the engine's errors beside the code, the saved code reshapes deliveries", async () => {
    const consumer = (await suite.server.api("POST", "/webhooks", { url: suite.receiver.url, eventTypes: ["company.created"] })).body;
    const api = `/webhooks/${consumer.id}/transformation`;
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors = watchConsole(page);
    await signIn(page, suite.server.baseUrl, suite.server.apiKey);
    await page.goto(`${suite.server.baseUrl}/portal/consumers/${consumer.id}`);
    assert.equal(await page.textContent("#transformation-summary"), "None");
    await page.click("#manage-transformation");
    await page.waitForSelector("#transformation-code");
    assert.match(await page.inputValue("#transformation-code"), /function handler\(webhook\)/, "a starting point");
    assert.equal(await page.textContent("#transformation-state"), "None");

    // Code that does not compile: the engine's message and line beside the field, in the API's words, and nothing saved.
    const broken = "function handler(webhook) {\n  return webhook.;\n}";
    await writeCode(page, broken);
    await page.click("#save-transformation");
    await page.waitForSelector("#code-error");
    const refusal = await suite.server.api("PUT", api, { code: broken });
    assert.equal(refusal.status, 400);
    assert.equal(await page.textContent("#code-error"), refusal.body.validation.errors[0].message);
    assert.match((await page.textContent("#code-error")) ?? "", /line 2/);
    assert.equal(await page.inputValue("#transformation-code"), broken, "what was typed stays");
    assert.equal(await page.getAttribute("#transformation-code", "aria-invalid"), "true");
    await screenshot(page, "portal-transformation-error");
    assert.equal((await suite.server.api("GET", api)).status, 404);

    // A test on the catalog's example: the request it would make and what it logged; still nothing saved or sent.
    await writeCode(page, RESHAPE);
    await page.selectOption("#test-event-type", "company.created");
    await page.click("#test-transformation");
    await page.waitForSelector("#test-outcome");
    const tested = JSON.parse((await page.textContent("#test-result")) ?? "");
    assert.equal(tested.payload.text, "Hello from company.created");
    assert.equal(tested.method, "POST");
    assert.equal(tested.url, suite.receiver.url);
    assert.equal(await page.textContent("#test-console"), "reshaping company.created");
    assert.equal(await page.locator("#test-error").count(), 0);
    await assertAccessible(page, "transformation test");
    await screenshot(page, "portal-transformation-test");
    assert.equal((await suite.server.api("GET", api)).status, 404, "a test saves nothing");

    // A pasted payload goes instead of the example; one that is not JSON is refused beside its field.
    const exampleResult = await page.textContent("#test-result");
    await page.fill("#test-payload", '{"id": "pasted-1", "eventType": "company.created", "payload": {}}');
    await page.click("#test-transformation");
    // The example's result stays on the page until the new one replaces it.
    await page.waitForFunction((previous) => document.querySelector("#test-result")?.textContent !== previous, exampleResult);
    assert.equal(JSON.parse((await page.textContent("#test-result")) ?? "").payload.original, "pasted-1");
    await page.fill("#test-payload", "{not json");
    await page.click("#test-transformation");
    await page.waitForSelector("#payload-error");
    assert.match((await page.textContent("#payload-error")) ?? "", /payload is not valid JSON/);

    // A handler that throws: its error and what it logged before.
    await page.fill("#test-payload", "");
    await writeCode(page, 'function handler(webhook) {\n  console.log("about to fail");\n  throw new Error("no channel for " + webhook.eventType);\n}');
    await page.click("#test-transformation");
    await page.waitForSelector("#test-outcome");
    assert.match((await page.textContent("#test-error")) ?? "", /no channel for company\.created/);
    assert.equal(await page.locator("#test-result").count(), 0);
    assert.equal(await page.textContent("#test-console"), "about to fail");
    await screenshot(page, "portal-transformation-test-error");

    // Saved and enabled: the next delivery carries the reshaped body.
    await writeCode(page, RESHAPE);
    await page.check("#transformation-enabled");
    await page.click("#save-transformation");
    await page.waitForURL(/done=transformation-saved/);
    assert.equal(await page.textContent("#transformation-state"), "Enabled");
    assert.deepEqual((await suite.server.api("GET", api)).body, { code: RESHAPE, enabled: true });
    await suite.server.api("POST", `/webhooks/${consumer.id}/examples`, { eventType: "company.created" });
    const [delivered] = await suite.receiver.waitFor(1);
    assert.equal(JSON.parse(delivered!.body).text, "Hello from company.created");

    // Disabled, then deleted.
    await page.goto(`${suite.server.baseUrl}/portal/consumers/${consumer.id}/transformation`);
    assert.equal(await page.isChecked("#transformation-enabled"), true);
    await page.uncheck("#transformation-enabled");
    await page.click("#save-transformation");
    await page.waitForURL(/done=transformation-saved/);
    assert.equal(await page.textContent("#transformation-state"), "Disabled");
    assert.equal((await suite.server.api("GET", api)).body.enabled, false);
    await page.goto(`${suite.server.baseUrl}/portal/consumers/${consumer.id}`);
    assert.equal(await page.textContent("#transformation-summary"), "Disabled");
    await page.click("#manage-transformation");
    await page.click("#delete-transformation");
    await page.waitForURL(/done=transformation-deleted/);
    assert.equal(await page.textContent("#transformation-summary"), "None");
    assert.equal((await suite.server.api("GET", api)).status, 404);
    assert.deepEqual(consoleErrors, [], "no script error and no CSP refusal");
    await page.close();
  });

  test("a read-only portal shows the code and runs tests, and refuses to save or delete", async () => {
    const consumer = (await suite.server.api("POST", "/webhooks", { url: suite.receiver.url, eventTypes: ["company.created"] })).body;
    const api = `/webhooks/${consumer.id}/transformation`;
    assert.equal((await suite.server.api("PUT", api, { code: RESHAPE })).status, 200);
    const access = await suite.server.api("POST", "/portal/access", { readOnly: true, webhookIds: [consumer.id] });
    for (const [viewport, size] of [
      ["desktop", { width: 1280, height: 900 }],
      ["phone", { width: 390, height: 844 }],
    ] as const) {
      const context = await suite.browser.newContext({ viewport: size });
      const page = await context.newPage();
      const consoleErrors = watchConsole(page);
      if (viewport === "desktop") await page.goto(access.body.url);
      else await signIn(page, suite.server.baseUrl, suite.server.apiKey);
      await page.goto(`${suite.server.baseUrl}/portal/consumers/${consumer.id}/transformation`);
      assert.equal(await page.inputValue("#transformation-code"), RESHAPE);
      await page.click("#test-transformation");
      await page.waitForSelector("#test-outcome");
      assert.equal(JSON.parse((await page.textContent("#test-result")) ?? "").payload.text, "Hello from company.created");
      await assertAccessible(page, `transformation (${viewport})`);
      await screenshot(page, `portal-${viewport}-transformation`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `the transformation page fits the ${viewport}'s width (overflows by ${overflow}px)`);
      if (viewport === "desktop") {
        assert.equal(await page.getAttribute("#transformation-code", "readonly"), "");
        assert.equal(await page.locator("#save-transformation, #delete-transformation, #transformation-enabled").count(), 0, "no changes offered");
        const token = await page.getAttribute("input[name=_csrf]", "value");
        const post = (path: string, body: string) =>
          page.evaluate(
            async ({ path, body }) => (await fetch(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body })).status,
            { path, body },
          );
        const base = `/portal/consumers/${consumer.id}/transformation`;
        assert.equal(await post(base, `_csrf=${token}&code=${encodeURIComponent("function handler(w) { return w; }")}&enabled=on`), 403, "saving is refused");
        assert.equal(await post(`${base}/delete`, `_csrf=${token}`), 403, "deleting is refused");
        assert.deepEqual((await suite.server.api("GET", api)).body, { code: RESHAPE, enabled: true }, "and nothing changed");
      }
      assert.deepEqual(consoleErrors, [], `no script error and no CSP refusal (${viewport})`);
      await context.close();
    }
  });
});
