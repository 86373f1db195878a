import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { screenshot, skipWithoutBrowser, withBrowser } from "./support/browser.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

describe("the interactive API docs at /docs", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test("are served under a strict CSP: scripts from this origin only, nothing inline, not frameable", async () => {
    const page = await fetch(`${server.baseUrl}/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.doesNotMatch(csp, /unsafe-eval|https?:|\*/, "no eval, no other host");
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get("x-frame-options"), "DENY");
    const html = await page.text();
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<\s]/, "no inline script");
    assert.doesNotMatch(html, /https?:\/\//, "nothing from a CDN");
    const json = await fetch(`${server.baseUrl}/docs/json`);
    assert.deepEqual(await json.json(), (await server.api("GET", "/openapi.json")).body, "over the served OpenAPI document");
  });

  test("render the served document's operations in a browser, with no script refused and no request elsewhere", { skip: skipWithoutBrowser }, async (t) => {
    const page = await (await withBrowser(t)).newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    const origin = new URL(server.baseUrl).origin;
    page.on("request", (request) => {
      if (!request.url().startsWith(origin) && !request.url().startsWith("data:")) problems.push(`request to ${request.url()}`);
    });

    await page.goto(`${server.baseUrl}/docs/`);
    await page.waitForSelector(".swagger-ui .info .title");
    assert.match((await page.locator(".swagger-ui .info .title").textContent()) ?? "", /Hookline|Codat/);
    const retryNow = page.locator(".opblock-summary-path", { hasText: "/webhooks/{webhookId}/retry-now" });
    await retryNow.first().waitFor();
    await retryNow.first().click();
    await page.locator(".opblock.is-open .opblock-description-wrapper").first().waitFor();
    assert.match((await page.locator(".opblock.is-open").first().textContent()) ?? "", /paced like recovery/);
    await screenshot(page, "api-docs");
    assert.deepEqual(problems, [], "Swagger UI ran under the CSP without a refusal, and fetched nothing from elsewhere");
  });
});
