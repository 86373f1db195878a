import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { screenshot, skipWithoutBrowser } from "./support/browser.ts";
import { CertificateAuthority } from "./support/certificates.ts";
import { recorded, signatureHeadersOf } from "./support/consumers.ts";
import { asId, type AttemptId } from "../src/ids.ts";
import { insertAttempts } from "../src/storage/attempts.ts";
import type { AttemptsTable } from "../src/storage/schema.ts";
import { pressLinkButton } from "./support/link-page.ts";
import { assertAccessible, portalSuite, signIn, watchConsole } from "./support/portal.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

describe("the portal in a browser", { skip: skipWithoutBrowser }, () => {
  const suite = portalSuite();

  test("sign in, create a consumer, send an example, see it succeed, resend, rotate the secret: the next delivery verifies with the new one", async () => {
    const page = await suite.browser.newPage();
    const consoleErrors = watchConsole(page);
    await signIn(page, suite.server.baseUrl, suite.server.apiKey);
    assert.equal(new URL(page.url()).pathname, "/portal/activity");
    const cookies = await page.context().cookies();
    const session = cookies.find((cookie) => cookie.name === "hookline_portal");
    assert.ok(session, "a session cookie");
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Strict");
    assert.ok(!session.value.includes(suite.server.apiKey), "the key is not in the cookie");
    assert.equal(await page.evaluate(() => document.cookie), "", "no script can read the session");

    await page.click("text=Consumers");
    await page.click("text=New consumer");
    await page.click("button:has-text('Create consumer')");
    await page.waitForSelector("#url-error");
    assert.equal(await page.textContent("#url-error"), "Required");
    await page.fill("#url", suite.receiver.url);
    await page.click("button:has-text('Create consumer')");
    await page.waitForSelector("#eventTypes-error");
    assert.equal(await page.textContent("#eventTypes-error"), "Subscribe to at least one event type");
    assert.equal(await page.inputValue("#url"), suite.receiver.url, "what was typed stays");
    await screenshot(page, "portal-consumer-form-errors");
    await page.check("input[value='company.created']");
    await page.click("button:has-text('Create consumer')");
    await page.waitForSelector("#consumer-state");
    const consumerPath = new URL(page.url()).pathname;
    assert.match(consumerPath, /^\/portal\/consumers\/[0-9a-f-]{36}$/);
    assert.match((await page.textContent(".notice")) ?? "", /Consumer created/);
    assert.equal(await page.textContent("#slow-concurrency"), "Default");

    // Its settings: a refused value is shown beside its field, changes nothing, and a good one is saved.
    await page.goto(`${suite.server.baseUrl}${consumerPath}/edit`);
    await page.fill("#slowConcurrency", "0");
    await page.click("button:has-text('Save')");
    await page.waitForSelector("#slowConcurrency-error");
    assert.match((await page.textContent("#slowConcurrency-error")) ?? "", /from 1 to 16 \(the operator's HOOKLINE_SLOW_CONSUMER_CONCURRENCY\)/);
    await page.fill("#slowConcurrency", "4");
    await page.click("button:has-text('Save')");
    await page.waitForSelector("#consumer-state");
    assert.equal(await page.textContent("#slow-concurrency"), "4 attempts at once");

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
    assert.equal(suite.receiver.received.length, 1);

    await page.click(`a[href='${consumerPath}']`);
    await page.waitForSelector("#messages");
    assert.match((await page.textContent("#messages tbody")) ?? "", /company\.created\s*example\s*Success/);
    await screenshot(page, "portal-consumer");

    await page.click("#messages tbody a");
    await page.click("button:has-text('Resend')");
    await page.waitForSelector(".notice");
    await suite.receiver.waitFor(2);
    assert.equal(JSON.parse(suite.receiver.received[1]!.body).id, JSON.parse(suite.receiver.received[0]!.body).id, "the same message again");

    await page.click(`a[href='${consumerPath}']`);
    await page.click("button:has-text('Rotate secret')");
    await page.waitForSelector("#signing-secret");
    const newSecret = (await page.textContent("#signing-secret"))!.trim();
    assert.match(newSecret, /^whsec_/);
    await page.click("text=Back to the consumer");
    await page.selectOption("#example-type", "company.created");
    await page.click("button:has-text('Send example')");
    const [, , third] = await suite.receiver.waitFor(3);
    const verified = new Webhook(newSecret).verify(third!.body, signatureHeadersOf(third!)) as { eventType: string };
    assert.equal(verified.eventType, "company.created");

    await page.click(`a[href='${consumerPath}']`);
    await page.click("text=Delete");
    await page.waitForSelector("text=Delete this consumer?");
    await screenshot(page, "portal-confirm-delete");
    await page.click("button:has-text('Delete consumer')");
    await page.waitForSelector("text=Consumer deleted.");
    assert.equal((await suite.server.api("GET", "/webhooks")).body.results.length, 0);

    await page.click("text=Sign out");
    await page.waitForURL(/\/portal\/sign-in$/);
    assert.equal((await page.context().cookies()).filter((cookie) => cookie.name === "hookline_portal").length, 0, "the session cookie is gone");
    await page.goto(`${suite.server.baseUrl}/portal/consumers`);
    assert.equal(new URL(page.url()).pathname, "/portal/sign-in");
    assert.deepEqual(consoleErrors, [], "no script error and no CSP refusal");
    await page.close();
  });

  test("an access link opens the portal once, read-only and limited to its consumers; expired, reused and changed links are refused with a page", async () => {
    const shown = await suite.server.api("POST", "/webhooks", { url: suite.receiver.url, eventTypes: ["company.created"] });
    const hidden = await suite.server.api("POST", "/webhooks", { url: `${suite.receiver.url}/other`, eventTypes: ["company.created"] });
    const access = await suite.server.api("POST", "/portal/access", { readOnly: true, webhookIds: [shown.body.id] });
    assert.equal(access.status, 201);
    assert.match(access.body.url, new RegExp(`^${suite.server.baseUrl}/portal/open\\?token=`));

    const context = await suite.browser.newContext();
    const page = await context.newPage();
    await page.goto(access.body.url);
    assert.equal(new URL(page.url()).pathname, "/portal/consumers", "the link's URL is replaced at once");
    assert.ok(!suite.server.logs().includes(new URL(access.body.url).searchParams.get("token")!), "the link's token is not logged");
    const listed = (await page.textContent("main")) ?? "";
    assert.ok(listed.includes(suite.receiver.url) && !listed.includes(`${suite.receiver.url}/other`), "only the consumers it is limited to");
    assert.equal(await page.locator("text=New consumer").count(), 0);
    assert.equal(await page.locator("nav >> text=API keys").count(), 0, "an embedded portal manages no API keys");
    await screenshot(page, "portal-embedded-consumers");

    const other = await page.goto(`${suite.server.baseUrl}/portal/consumers/${hidden.body.id}`);
    assert.equal(other?.status(), 404, "a consumer outside the link's limits is not there");
    await page.goto(`${suite.server.baseUrl}/portal/consumers/${shown.body.id}`);
    assert.equal(await page.locator("button:has-text('Disable')").count(), 0, "a read-only portal offers no changes");
    const token = await page.getAttribute("input[name=_csrf]", "value");
    const refused = await page.evaluate(
      async ({ path, token }) =>
        (await fetch(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `_csrf=${token}` })).status,
      { path: `/portal/consumers/${shown.body.id}/disable`, token },
    );
    assert.equal(refused, 403, "a change in a read-only portal is refused");
    assert.equal((await suite.server.api("GET", `/webhooks/${shown.body.id}`)).body.disabled, false, "and changes nothing");

    const again = await (await suite.browser.newContext()).newPage();
    const reused = await again.goto(access.body.url);
    assert.equal(reused?.status(), 403);
    assert.match((await again.textContent("#refusal")) ?? "", /already used/);
    await screenshot(again, "portal-link-reused");

    const fresh = (await suite.server.api("POST", "/portal/access", {})).body.url as string;
    const tampered = fresh.replace(/token=(.)/, (_match, character: string) => `token=${character === "e" ? "f" : "e"}`);
    const changed = await again.goto(tampered);
    assert.equal(changed?.status(), 403);
    assert.match((await again.textContent("#refusal")) ?? "", /not valid/);

    const quick = await startTestServer({ portalLinkTtl: "1ms" });
    try {
      const link = (await quick.api("POST", "/portal/access", {})).body.url as string;
      const expired = await again.goto(link);
      assert.equal(expired?.status(), 403);
      assert.match((await again.textContent("#refusal")) ?? "", /expired/);
      await screenshot(again, "portal-link-expired");
    } finally {
      await quick.close();
    }
    await context.close();
  });

  test("an access link embeds the portal in a page of a site the client's profile lists, and in no other site's", async () => {
    const client = await suite.server.addClient("Embedding client");
    const hostPage = async (link: string) => {
      const host = createServer((_request, response) =>
        response
          .writeHead(200, { "content-type": "text/html" })
          .end(`<!doctype html><title>Our app</title><iframe src="${link}" width="1200" height="700"></iframe>`),
      );
      host.listen(0, "127.0.0.1");
      await once(host, "listening");
      return { host, origin: `http://127.0.0.1:${(host.address() as AddressInfo).port}` };
    };
    const listed = await hostPage((await client.api("POST", "/portal/access", {})).body.url);
    const other = await hostPage((await client.api("POST", "/portal/access", {})).body.url);
    try {
      const profile = await client.api("PUT", "/profile", { name: "Embedding client", redirectUrl: "", whiteListUrls: [listed.origin] });
      assert.equal(profile.status, 200, JSON.stringify(profile.body));
      const context = await suite.browser.newContext({ viewport: { width: 1280, height: 760 } });
      const page = await context.newPage();
      await page.goto(listed.origin);
      const frame = page.frameLocator("iframe");
      await frame.locator("h1").first().waitFor();
      assert.match((await frame.locator("body").textContent()) ?? "", /Embedding client/, "the embedded portal is the client's");
      await screenshot(page, "portal-embedded");

      const refusals: string[] = [];
      const refused = await context.newPage();
      refused.on("console", (message) => refusals.push(message.text()));
      await refused.goto(other.origin);
      await until("the frame to be refused", async () => refusals.some((text) => /frame-ancestors/.test(text)) || refusals.join("\n") || "nothing yet");
      assert.doesNotMatch(
        (await refused
          .frameLocator("iframe")
          .locator("body")
          .textContent({ timeout: 2000 })
          .catch(() => "")) ?? "",
        /Embedding client/,
      );
      await context.close();
    } finally {
      listed.host.close();
      other.host.close();
    }
  });

  test("a consumer's client certificate: a key that does not match is refused beside its field; the certificate is uploaded, shown and removed", async () => {
    const ca = CertificateAuthority.create("Portal test CA");
    const client = ca.issue("portal-client", "client");
    const other = ca.issue("portal-other", "client");
    const consumer = (await suite.server.api("POST", "/webhooks", { url: suite.receiver.url, eventTypes: ["company.created"] })).body;
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = watchConsole(page);
    await signIn(page, suite.server.baseUrl, suite.server.apiKey);
    await page.goto(`${suite.server.baseUrl}/portal/consumers/${consumer.id}`);
    await page.click("#manage-mtls");
    assert.match((await page.textContent("#mtls-current")) ?? "", /No client certificate/);

    await page.fill("#mtls-certificate", client.certificate);
    await page.fill("#mtls-key", other.privateKey);
    await page.click("text=Save certificate");
    assert.match((await page.textContent("#key-error")) ?? "", /does not match/);
    assert.equal(await page.inputValue("#mtls-key"), "", "the refused key is not sent back into the page");
    assert.equal((await suite.server.api("GET", `/webhooks/${consumer.id}`)).body.mtls, null, "nothing changed");
    await screenshot(page, "portal-mtls-refused");

    await page.fill("#mtls-key", client.privateKey);
    await page.click("text=Save certificate");
    await page.waitForSelector("dl#mtls-current");
    assert.match((await page.textContent("#mtls-current")) ?? "", /portal-client/);
    assert.match((await suite.server.api("GET", `/webhooks/${consumer.id}`)).body.mtls.subject, /portal-client/);
    assert.ok(!(await page.content()).includes("PRIVATE KEY"), "the key is never shown");
    await screenshot(page, "portal-mtls");

    await page.click("text=Remove the certificate");
    await page.waitForSelector("p#mtls-current");
    assert.equal((await suite.server.api("GET", `/webhooks/${consumer.id}`)).body.mtls, null);
    assert.deepEqual(errors, [], "no script error and no CSP refusal");
    // Last: the scan injects axe-core, whose inline styles the page's CSP refuses.
    await assertAccessible(page, "mTLS page");
    await context.close();
  });

  test("a change without the session's token, or from another site, is refused and changes nothing; another client's ids answer 404", async () => {
    const consumer = (await suite.server.api("POST", "/webhooks", { url: suite.receiver.url, eventTypes: ["company.created"] })).body;
    const context = await suite.browser.newContext();
    const page = await context.newPage();
    await signIn(page, suite.server.baseUrl, suite.server.apiKey);
    const status = (body: string) =>
      page.evaluate(
        async ({ path, body }) => (await fetch(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body })).status,
        { path: `/portal/consumers/${consumer.id}/disable`, body },
      );
    assert.equal(await status(""), 403, "no token");
    assert.equal(await status("_csrf=forged"), 403, "a wrong token");
    await page.goto(`${suite.server.baseUrl}/portal/consumers/${consumer.id}`);
    const token = (await page.getAttribute("input[name=_csrf]", "value"))!;
    // From another site: the browser's cookie and the page's token, but another Origin, as a forged form would send.
    const cookie = (await context.cookies()).map((entry) => `${entry.name}=${entry.value}`).join("; ");
    const crossSite = await fetch(`${suite.server.baseUrl}/portal/consumers/${consumer.id}/disable`, {
      method: "POST",
      headers: { cookie, origin: "http://attacker.example", "content-type": "application/x-www-form-urlencoded" },
      body: `_csrf=${token}`,
      redirect: "manual",
    });
    assert.equal(crossSite.status, 403);
    const forgedSignIn = await fetch(`${suite.server.baseUrl}/portal/sign-in`, {
      method: "POST",
      headers: { origin: "http://attacker.example", "content-type": "application/x-www-form-urlencoded" },
      body: `apiKey=${encodeURIComponent(suite.server.apiKey)}`,
      redirect: "manual",
    });
    assert.equal(forgedSignIn.status, 403, "another site cannot sign a visitor in");
    assert.equal(forgedSignIn.headers.get("set-cookie"), null);
    assert.equal((await suite.server.api("GET", `/webhooks/${consumer.id}`)).body.disabled, false, "nothing changed");
    assert.equal(await status(`_csrf=${token}`), 200, "the page's own form works");
    assert.equal((await suite.server.api("GET", `/webhooks/${consumer.id}`)).body.disabled, true);

    const stranger = await suite.server.addClient("Another client");
    const theirs = (await stranger.api("POST", "/webhooks", { url: suite.receiver.url, eventTypes: ["company.created"] })).body;
    const theirCompany = (await stranger.api("POST", "/companies", { name: "Their company" })).body;
    for (const path of [`/portal/consumers/${theirs.id}`, `/portal/consumers/${theirs.id}/edit`, `/portal/companies/${theirCompany.id}/summary`]) {
      const response = await page.goto(`${suite.server.baseUrl}${path}`);
      assert.equal(response?.status(), 404, path);
    }
    await screenshot(page, "portal-not-found");
    const deleteTheirs = await page.evaluate(
      async ({ path, token }) =>
        (await fetch(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `_csrf=${token}` })).status,
      { path: `/portal/consumers/${theirs.id}/delete`, token },
    );
    assert.equal(deleteTheirs, 404);
    assert.equal((await stranger.api("GET", `/webhooks/${theirs.id}`)).status, 200, "their consumer is still there");
    await context.close();
  });

  test("a connection.failed event's links.portal opens that company's page, after signing in", async () => {
    await suite.server.api("POST", "/webhooks", { url: `${suite.receiver.url}/failed`, eventTypes: ["connection.failed"] });
    const company = (await suite.server.api("POST", "/companies", { name: "Harbour Bakery", tags: { region: "uk" } })).body;
    const connection = (await suite.server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
    assert.equal((await pressLinkButton(connection.linkUrl, "cancel")).status, 200);
    const [failed] = await until(
      "connection.failed at the receiver",
      async () => suite.receiver.events().filter((event) => event.eventType === "connection.failed"),
      (found) => found.length === 1,
    );
    const portalUrl = (failed!.payload.referenceCompany as { links: { portal: string } }).links.portal;

    const context = await suite.browser.newContext();
    const page = await context.newPage();
    await page.goto(portalUrl);
    assert.equal(new URL(page.url()).pathname, "/portal/sign-in");
    await signIn(page, suite.server.baseUrl, suite.server.apiKey, portalUrl);
    assert.equal(page.url(), portalUrl);
    assert.equal(await page.textContent("#company-name"), "Harbour Bakery");
    const section = (await page.textContent(".connection")) ?? "";
    assert.match(section, /PendingAuth/);
    assert.match(section, /User cancelled/);
    assert.ok(section.includes(connection.linkUrl), "the link URL to copy");
    await screenshot(page, "portal-company");

    await page.goto(`${suite.server.baseUrl}/portal/companies?search=${encodeURIComponent("region=uk")}`);
    assert.match((await page.textContent("#companies")) ?? "", /Harbour Bakery/);
    await page.goto(`${suite.server.baseUrl}/portal/companies?search=Nobody`);
    assert.equal(await page.locator("#companies").count(), 0);
    await context.close();
  });

  test("every page passes an accessibility scan and fits a phone", async () => {
    const consumer = (await suite.server.api("POST", "/webhooks", { url: suite.receiver.url, eventTypes: ["company.created"] })).body;
    await suite.server.api("POST", `/webhooks/${consumer.id}/examples`, { eventType: "company.created" });
    const message = await until(
      "the example's attempt",
      async () => (await suite.server.api("GET", `/webhooks/${consumer.id}/messages`)).body.results[0],
      (found) => found?.deliveries[0]?.status === "Success",
    );
    const company = (await suite.server.api("POST", "/companies", { name: "Toft Stores", tags: { region: "us" } })).body;
    const pages: Record<string, string> = {
      activity: "/portal/activity",
      consumers: "/portal/consumers",
      "consumer-new": "/portal/consumers/new",
      "consumer-edit": `/portal/consumers/${consumer.id}/edit`,
      "consumer-logs": `/portal/consumers/${consumer.id}`,
      "consumer-message": `/portal/consumers/${consumer.id}/messages/${message.id}`,
      "consumer-secret": `/portal/consumers/${consumer.id}/secret`,
      "consumer-headers": `/portal/consumers/${consumer.id}/headers`,
      catalog: "/portal/catalog",
      companies: "/portal/companies",
      "company-summary": `/portal/companies/${company.id}/summary`,
      "api-keys": "/portal/api-keys",
    };
    for (const [viewport, size] of [
      ["desktop", { width: 1280, height: 900 }],
      ["phone", { width: 390, height: 844 }],
    ] as const) {
      const context = await suite.browser.newContext({ viewport: size });
      const page = await context.newPage();
      const consoleErrors = watchConsole(page);
      await page.goto(`${suite.server.baseUrl}/portal/sign-in`);
      await assertAccessible(page, "sign-in");
      await screenshot(page, `portal-${viewport}-sign-in`);
      await signIn(page, suite.server.baseUrl, suite.server.apiKey);
      for (const [name, path] of Object.entries(pages)) {
        const response = await page.goto(`${suite.server.baseUrl}${path}`);
        assert.equal(response?.status(), 200, path);
        await page.waitForLoadState("load");
        await assertAccessible(page, name);
        await screenshot(page, `portal-${viewport}-${name}`);
        if (viewport === "phone") {
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          assert.ok(overflow <= 1, `${name} fits a phone's width (overflows by ${overflow}px)`);
        }
      }
      assert.deepEqual(consoleErrors, [], `no script error and no CSP refusal (${viewport})`);
      await context.close();
    }
  });

  test("the activity page counts a day of successes and failures per hour, and shows the backlog and its oldest delivery", async () => {
    const client = await suite.server.addClient("Activity client");
    const steady = (await client.api("POST", "/webhooks", { url: suite.receiver.url, eventTypes: ["company.created"] })).body;
    await client.api("POST", `/webhooks/${steady.id}/examples`, { eventType: "company.created" });
    const [delivery] = await until(
      "the example's delivery",
      async () => (await recorded(suite.server, steady.id)).deliveries,
      (found) => found[0]?.status === "Success",
    );
    // A day of history: attempts as the worker records them, spread over the last 22 hours (the chart's 24 hours start at
    // the first whole hour after this time yesterday, so anything older than 23 hours may fall outside), with a few hours of failures.
    const hour = 3_600_000;
    const now = Date.now();
    let succeeded = 1;
    let failed = 0;
    const history: AttemptsTable[] = [];
    for (let hoursAgo = 22; hoursAgo >= 1; hoursAgo--) {
      for (let index = 0; index < 3 + ((hoursAgo * 7) % 11); index++) {
        const fails = hoursAgo >= 5 && hoursAgo <= 8 && index % 2 === 0;
        if (fails) failed++;
        else succeeded++;
        history.push({
          id: asId<AttemptId>(randomUUID()),
          client_id: delivery!.client_id,
          delivery_id: delivery!.id,
          message_id: delivery!.message_id,
          consumer_id: delivery!.consumer_id,
          attempt_number: 1,
          started_at: now - hoursAgo * hour - index * 60_000,
          duration_ms: 40 + index,
          status_code: fails ? 503 : 200,
          response_excerpt: null,
          error: null,
          succeeded: fails ? 0 : 1,
        });
      }
    }
    await suite.server.hookline.ctx.store.transaction(({ tx }) => insertAttempts(tx, history));
    // And a consumer that answers 500: its delivery waits for its retry, the backlog.
    const failing = await Receiver.start((_index, _webhook, response) => response.writeHead(500).end());
    try {
      const waiting = (await client.api("POST", "/webhooks", { url: failing.url, eventTypes: ["company.created"] })).body;
      await client.api("POST", `/webhooks/${waiting.id}/examples`, { eventType: "company.created" });
      await failing.waitFor(1);
      await until(
        "the failed attempt recorded",
        async () => (await recorded(suite.server, waiting.id)).attempts.length,
        (count) => count === 1,
      );
      failed++;

      const context = await suite.browser.newContext({ viewport: { width: 1280, height: 760 } });
      const page = await context.newPage();
      await signIn(page, suite.server.baseUrl, client.apiKey);
      await page.waitForSelector("#chart canvas");
      assert.equal(await page.textContent("#succeeded"), String(succeeded));
      assert.equal(await page.textContent("#failed"), String(failed));
      assert.equal(await page.textContent("#backlog"), "1");
      assert.notEqual(await page.textContent("#oldest"), "—");
      await screenshot(page, "portal-activity");
      await page.click("text=Last 6h");
      await page.waitForURL(/period=6h/);
      assert.equal(Number(await page.textContent("#succeeded")) < succeeded, true, "six hours hold fewer attempts than a day");
      await page.goto(`${suite.server.baseUrl}/portal/activity?consumer=${waiting.id}`);
      assert.equal(await page.textContent("#succeeded"), "0", "one consumer's activity");
      assert.equal(await page.textContent("#failed"), "1");
      assert.equal(await page.textContent("#backlog"), "1");

      await page.goto(`${suite.server.baseUrl}/portal/consumers/${waiting.id}`);
      await page.waitForSelector("#messages");
      assert.match((await page.textContent("#messages tbody")) ?? "", /Attempting/);
      const subscribed = (await client.api("PATCH", `/webhooks/${steady.id}`, { eventTypes: ["company.created", "connection.failed", "connection.connected"] }))
        .body;
      assert.equal(subscribed.eventTypes.length, 3);
      for (const eventType of ["connection.connected", "connection.failed", "company.created", "connection.failed"]) {
        await client.api("POST", `/webhooks/${steady.id}/examples`, { eventType });
      }
      await until(
        "five messages delivered to the steady consumer",
        async () => (await client.api("GET", `/webhooks/${steady.id}/messages?status=Success`)).body.results.length,
        (count) => count === 5,
      );
      await page.goto(`${suite.server.baseUrl}/portal/consumers/${steady.id}?eventType=connection.failed`);
      assert.equal(await page.locator("#messages tbody tr").count(), 2, "the event type filter");
      await page.goto(`${suite.server.baseUrl}/portal/consumers/${steady.id}`);
      assert.equal(await page.locator("#messages tbody tr").count(), 5);
      await screenshot(page, "portal-logs");
      await context.close();
    } finally {
      await failing.close();
    }
  });

  test("a consumer's log pages by cursor, older messages after newer; a session ends when its API key is deleted", async () => {
    const client = await suite.server.addClient("Paging client");
    const consumer = (await client.api("POST", "/webhooks", { url: suite.receiver.url, eventTypes: ["company.created"] })).body;
    const sent: string[] = [];
    for (let index = 0; index < 27; index++)
      sent.push((await client.api("POST", `/webhooks/${consumer.id}/examples`, { eventType: "company.created" })).body.id);
    const context = await suite.browser.newContext();
    const page = await context.newPage();
    await signIn(page, suite.server.baseUrl, client.apiKey);
    await page.goto(`${suite.server.baseUrl}/portal/consumers/${consumer.id}`);
    const idsOnPage = async () => (await page.locator("#messages tbody td.mono.hide-narrow").allTextContents()).map((text) => text.trim());
    const first = await idsOnPage();
    assert.equal(first.length, 25);
    await page.click("#older");
    await page.waitForURL(/cursor=/);
    const second = await idsOnPage();
    assert.deepEqual([...first, ...second], [...sent].reverse(), "every message once, newest first");
    assert.equal(await page.locator("#older").count(), 0, "the last page");

    const extra = (await client.api("POST", "/apiKeys", { name: "portal" })).body;
    const keyed = await (await suite.browser.newContext()).newPage();
    await signIn(keyed, suite.server.baseUrl, extra.apiKey);
    assert.equal((await client.api("DELETE", `/apiKeys/${extra.id}`)).status, 204);
    await keyed.goto(`${suite.server.baseUrl}/portal/consumers`);
    assert.equal(new URL(keyed.url()).pathname, "/portal/sign-in", "the session ended with its key");
    await context.close();
  });

  test("custom headers: a refused name is explained beside the field, a value is shown masked and sent with the next delivery, then removed", async () => {
    const headerReceiver = await Receiver.start();
    try {
      const consumer = (await suite.server.api("POST", "/webhooks", { url: headerReceiver.url, eventTypes: ["company.created"] })).body;
      const context = await suite.browser.newContext();
      const page = await context.newPage();
      await signIn(page, suite.server.baseUrl, suite.server.apiKey);
      await page.goto(`${suite.server.baseUrl}/portal/consumers/${consumer.id}`);
      await page.click("#manage-headers");
      await page.fill("#header-name", "webhook-signature");
      await page.fill("#header-value", "forged");
      await page.click("button:has-text('Save header')");
      await page.waitForSelector("#header-error");
      assert.match((await page.textContent("#header-error")) ?? "", /set by Hookline and cannot be overridden/);
      await page.fill("#header-name", "X-Api-Token");
      await page.fill("#header-value", "token-0123456789-abcd");
      await page.click("button:has-text('Save header')");
      await page.waitForSelector("#headers");
      const shown = (await page.textContent("#headers")) ?? "";
      assert.ok(shown.includes("****abcd") && !shown.includes("token-0123456789"), "the value masked as the API masks it");
      await screenshot(page, "portal-headers");
      await suite.server.api("POST", `/webhooks/${consumer.id}/examples`, { eventType: "company.created" });
      const [delivered] = await headerReceiver.waitFor(1);
      assert.equal(delivered!.headers["x-api-token"], "token-0123456789-abcd");
      await page.click("button:has-text('Remove')");
      await page.waitForSelector("text=No custom headers.");
      assert.deepEqual((await suite.server.api("GET", `/webhooks/${consumer.id}/headers`)).body.headers, {});
      await context.close();
    } finally {
      await headerReceiver.close();
    }
  });
});
