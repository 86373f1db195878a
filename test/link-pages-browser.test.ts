import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { screenshot, skipWithoutBrowser, withBrowser } from "./support/browser.ts";
import { CertificateAuthority } from "./support/certificates.ts";
import { subscribe } from "./support/consumers.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

describe("the hosted link pages in a browser", { skip: skipWithoutBrowser }, () => {
  let server: TestServer;
  let receiver: Receiver;
  before(async () => {
    server = await startTestServer();
    receiver = await Receiver.start();
    await subscribe(server, receiver.url, { eventTypes: ["connection.connected", "connection.failed"] });
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test("a customer opens the company's link page, picks the sandbox, authorizes, and the client hears connection.connected", async (t) => {
    const company = (await server.api("POST", "/companies", { name: "Harbour Bakery" })).body;
    const page = await (await withBrowser(t)).newPage();
    const scriptErrors: string[] = [];
    page.on("pageerror", (error) => scriptErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") scriptErrors.push(message.text());
    });

    await page.goto(company.redirect);
    assert.equal(await page.locator("h1").textContent(), "Connect Harbour Bakery");
    await screenshot(page, "link-company");
    await page
      .getByRole("button", { name: /^Connect / })
      .first()
      .click();

    await page.waitForSelector("#authorize");
    assert.equal(await page.locator("#status").textContent(), "PendingAuth");
    await screenshot(page, "link-consent");
    await page.click("#authorize");
    await page.waitForLoadState();
    await screenshot(page, "link-outcome-linked");

    const connections = (await server.api("GET", `/companies/${company.id}/connections`)).body.results;
    assert.equal(connections.length, 1);
    assert.equal(connections[0].status, "Linked");
    const events = await until(
      "connection.connected at the receiver",
      async () => receiver.events().filter((event) => event.eventType === "connection.connected"),
      (found) => found.length === 1,
    );
    assert.equal((events[0]!.payload.connection as { id: string }).id, connections[0].id);
    assert.deepEqual(scriptErrors, [], "the pages run no script, so the browser reports none (a CSP refusal would show here)");
  });

  test("the pages show the client's name and its logo from an https URL, which their CSP lets load, and no other site's images", async (t) => {
    // The client's logo, served over HTTPS by a site of its own (its certificate from a test authority the browser is told to accept).
    const issued = CertificateAuthority.create("Logo CA").issue("127.0.0.1", "server");
    const logoSite = createServer({ key: issued.privateKey, cert: issued.certificate }, (_request, response) =>
      response
        .writeHead(200, { "content-type": "image/svg+xml" })
        .end('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" rx="6" fill="#2e7d32"/></svg>'),
    );
    logoSite.listen(0, "127.0.0.1");
    await once(logoSite, "listening");
    t.after(() => logoSite.close());
    const logoUrl = `https://127.0.0.1:${(logoSite.address() as AddressInfo).port}/logo.svg`;
    const client = await server.addClient("Branded client");
    const profile = (await client.api("GET", "/profile")).body;
    assert.equal((await client.api("PUT", "/profile", { ...profile, name: "Bob's Burgers", logoUrl })).status, 200);
    await subscribe(client, receiver.url, { eventTypes: ["connection.connected"] });

    const company = (await client.api("POST", "/companies", { name: "Burger Van" })).body;
    const context = await (await withBrowser(t)).newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const refused: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") refused.push(message.text());
    });
    const assertBranded = async (shot: string) => {
      assert.equal(await page.locator("#client-name").textContent(), "Bob's Burgers");
      assert.equal(await page.locator("#client-logo").getAttribute("src"), logoUrl);
      await page.waitForFunction(() => (document.querySelector("#client-logo") as HTMLImageElement | null)?.complete === true);
      assert.equal(await page.locator("#client-logo").evaluate((image: HTMLImageElement) => image.naturalWidth), 120, `${shot}: the logo loaded`);
      await screenshot(page, shot);
    };
    const companyPage = await page.goto(company.redirect);
    assert.equal(
      companyPage!.headers()["content-security-policy"],
      `default-src 'none'; img-src 'self' ${new URL(logoUrl).origin}; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
      "the logo's origin, and no other, may serve images",
    );
    await assertBranded("link-company-branded");
    await page.getByRole("button", { name: "Connect Hookline Sandbox" }).click();
    await page.waitForSelector("#authorize");
    await assertBranded("link-consent-branded");
    await page.click("#authorize");
    await page.waitForSelector("#status");
    assert.equal(await page.locator("#status").textContent(), "Linked");
    await assertBranded("link-outcome-branded");

    // An image from anywhere else is still refused by the CSP, as before.
    await page.evaluate(() => {
      const image = document.createElement("img");
      image.src = "https://127.0.0.2:9/elsewhere.png";
      document.body.append(image);
    });
    await until(
      "the CSP refusing another site's image",
      async () => refused.join("\n"),
      (text) => /Content Security Policy/.test(text),
    );
    assert.ok(!refused.some((text) => text.includes(`image '${logoUrl}'`)), "the logo itself was never refused");
    assert.ok(refused.some((text) => text.includes("image 'https://127.0.0.2:9/elsewhere.png'")));
  });

  test("Cancel on the consent page fails the connection with the customer's words, and the client hears connection.failed", async (t) => {
    const company = (await server.api("POST", "/companies", { name: "Quay Florists" })).body;
    const connection = (await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
    const page = await (await withBrowser(t)).newPage();
    await page.goto(connection.linkUrl);
    await page.click("#cancel");
    await page.waitForLoadState();
    await screenshot(page, "link-outcome-cancelled");
    assert.match((await page.textContent("body")) ?? "", /cancel/i);

    const failed = (await server.api("GET", `/companies/${company.id}/connections/${connection.id}`)).body;
    assert.equal(failed.status, "PendingAuth");
    assert.equal(failed.dataConnectionErrors[0].statusCode, "403");
    await until(
      "connection.failed at the receiver",
      async () => receiver.events().filter((event) => event.eventType === "connection.failed"),
      (found) => found.length === 1,
    );
  });
});
