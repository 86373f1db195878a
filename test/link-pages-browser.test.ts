import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { screenshot, skipWithoutBrowser, withBrowser } from "./support/browser.ts";
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
