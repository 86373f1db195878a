import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import type { Browser } from "playwright-core";
import { screenshot, skipWithoutBrowser, withBrowser } from "./support/browser.ts";
import { signatureHeadersOf } from "./support/consumers.ts";
import { pressLinkButton } from "./support/link-page.ts";
import { assertAccessible, signIn, watchConsole } from "./support/portal.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

describe("the portal in a browser", { skip: skipWithoutBrowser }, () => {
  let server: TestServer;
  let receiver: Receiver;
  let browser: Browser;
  before(async () => {
    server = await startTestServer();
    receiver = await Receiver.start();
    // Closed with the suite, below, rather than after the first test.
    browser = await withBrowser({ after: () => undefined });
  });
  after(async () => {
    await browser.close();
    await server.close();
    await receiver.close();
  });

  test("sign in, create a consumer, send an example, see it succeed, resend, rotate the secret: the next delivery verifies with the new one", async () => {
    const page = await browser.newPage();
    const consoleErrors = watchConsole(page);
    await signIn(page, server.baseUrl, server.apiKey);
    assert.equal(new URL(page.url()).pathname, "/portal/activity");
    const cookies = await page.context().cookies();
    const session = cookies.find((cookie) => cookie.name === "hookline_portal");
    assert.ok(session, "a session cookie");
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Strict");
    assert.ok(!session.value.includes(server.apiKey), "the key is not in the cookie");
    assert.equal(await page.evaluate(() => document.cookie), "", "no script can read the session");

    await page.click("text=Consumers");
    await page.click("text=New consumer");
    await page.click("button:has-text('Create consumer')");
    await page.waitForSelector("#url-error");
    assert.equal(await page.textContent("#url-error"), "Required");
    await page.fill("#url", receiver.url);
    await page.click("button:has-text('Create consumer')");
    await page.waitForSelector("#eventTypes-error");
    assert.equal(await page.textContent("#eventTypes-error"), "Subscribe to at least one event type");
    assert.equal(await page.inputValue("#url"), receiver.url, "what was typed stays");
    await screenshot(page, "portal-consumer-form-errors");
    await page.check("input[value='company.created']");
    await page.click("button:has-text('Create consumer')");
    await page.waitForSelector("#consumer-state");
    const consumerPath = new URL(page.url()).pathname;
    assert.match(consumerPath, /^\/portal\/consumers\/[0-9a-f-]{36}$/);
    assert.match((await page.textContent(".notice")) ?? "", /Consumer created/);

    await page.selectOption("#example-type", "company.created");
    await page.click("button:has-text('Send example')");
    await page.waitForSelector("#delivery-status");
    await until(
      "the example's attempt on its page",
      async () => (await page.textContent("#attempts")) ?? "",
      (text) => text.includes("Succeeded"),
    );
    assert.equal(await page.textContent("#delivery-status"), "Success");
    await screenshot(page, "portal-message");
    assert.equal(receiver.received.length, 1);

    await page.click(`a[href='${consumerPath}']`);
    await page.waitForSelector("#messages");
    assert.match((await page.textContent("#messages tbody")) ?? "", /company\.created\s*example\s*Success/);
    await screenshot(page, "portal-consumer");

    await page.click("#messages tbody a");
    await page.click("button:has-text('Resend')");
    await page.waitForSelector(".notice");
    await receiver.waitFor(2);
    assert.equal(JSON.parse(receiver.received[1]!.body).id, JSON.parse(receiver.received[0]!.body).id, "the same message again");

    await page.click(`a[href='${consumerPath}']`);
    await page.click("button:has-text('Rotate secret')");
    await page.waitForSelector("#signing-secret");
    const newSecret = (await page.textContent("#signing-secret"))!.trim();
    assert.match(newSecret, /^whsec_/);
    await page.click("text=Back to the consumer");
    await page.selectOption("#example-type", "company.created");
    await page.click("button:has-text('Send example')");
    const [, , third] = await receiver.waitFor(3);
    const verified = new Webhook(newSecret).verify(third!.body, signatureHeadersOf(third!)) as { eventType: string };
    assert.equal(verified.eventType, "company.created");

    await page.click(`a[href='${consumerPath}']`);
    await page.click("text=Delete");
    await page.waitForSelector("text=Delete this consumer?");
    await screenshot(page, "portal-confirm-delete");
    await page.click("button:has-text('Delete consumer')");
    await page.waitForSelector("text=Consumer deleted.");
    assert.equal((await server.api("GET", "/webhooks")).body.results.length, 0);
    assert.deepEqual(consoleErrors, [], "no script error and no CSP refusal");
    await page.close();
  });
});
