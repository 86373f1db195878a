import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { screenshot, skipWithoutBrowser, withBrowser } from "./support/browser.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { withServer } from "./support/server.ts";

describe("the client profile", () => {
  test("the SDK reads and replaces the profile; alertAuthHeader is kept sealed; each client sees only its own", async (t) => {
    const server = await withServer(t);
    assert.deepEqual(await server.sdk.settings.getProfile(), { name: "Test client", redirectUrl: "", whiteListUrls: [] });
    const profile = {
      name: "Bob's Burgers",
      logoUrl: "https://bobs-burgers.example/logo.png",
      iconUrl: "https://bobs-burgers.example/icon.ico",
      redirectUrl: "https://bobs-burgers.{countrySuffix}/{companyId}",
      whiteListUrls: ["https://bobs-burgers.com", "https://bobs-burgers.co.uk"],
    };
    assert.deepEqual(await server.sdk.settings.updateProfile(profile), profile);
    assert.deepEqual(await server.sdk.settings.getProfile(), profile);

    const withHeader = await server.api("PUT", "/profile", { ...profile, alertAuthHeader: "Bearer rule-webhooks-secret" });
    assert.equal(withHeader.status, 200);
    assert.equal((await server.api("GET", "/profile")).body.alertAuthHeader, "Bearer rule-webhooks-secret");
    const stored = await server.hookline.ctx.store.db.selectFrom("client_profiles").select("alert_auth_header").executeTakeFirstOrThrow();
    assert.ok(stored.alert_auth_header && !stored.alert_auth_header.includes("rule-webhooks-secret"), "sealed at rest");

    const other = await server.addClient("Other client");
    assert.equal((await other.api("GET", "/profile")).body.name, "Other client");
  });

  test("the served OpenAPI document shows alertAuthHeader on the profile and the operator API with its own token", async (t) => {
    const server = await withServer(t);
    const document = await (await fetch(`${server.baseUrl}/openapi.json`)).json();
    assert.equal(document.components.schemas.Profile.properties.alertAuthHeader.type, "string");
    assert.ok(document.components.schemas.Profile.properties.whiteListUrls, "Codat's fields are kept");
    assert.deepEqual(document.components.securitySchemes.operator_token, {
      type: "http",
      scheme: "bearer",
      description: document.components.securitySchemes.operator_token.description,
    });
    const access = document.paths["/operator/companies/{companyId}/connections/{connectionId}/access"].get;
    const deauthorize = document.paths["/operator/companies/{companyId}/connections/{connectionId}/deauthorize"].post;
    for (const operation of [access, deauthorize]) assert.deepEqual(operation.security, [{ operator_token: [] }]);
    assert.deepEqual(
      access.responses["200"].content["application/json"].schema.oneOf.map((schema: any) => schema.properties.kind.const),
      ["oauth2", "credentials"],
    );
    assert.deepEqual(deauthorize.requestBody.content["application/json"].schema.required, ["statusCode", "message"]);
    // The document's alertAuthHeader is the one PUT /profile checks: a longer header is refused.
    const tooLong = "Bearer " + "x".repeat(2000);
    assertErrorMessage(
      await server.api("PUT", "/profile", { name: "Long", redirectUrl: "https://ok.example", alertAuthHeader: tooLong }),
      400,
      "too long",
      /alertAuthHeader/,
    );
  });

  test("a bad profile is refused with 400 and changes nothing", async (t) => {
    const server = await withServer(t);
    await server.api("PUT", "/profile", { name: "Kept", redirectUrl: "https://kept.example/done" });
    for (const [body, message] of [
      [{ name: "No redirect" }, /redirectUrl/],
      [{ name: "Bad", redirectUrl: "javascript:alert(1)" }, /redirectUrl must be an http or https URL/],
      [{ name: "Bad", redirectUrl: "https://ok.example", whiteListUrls: ["ftp://files.example"] }, /whiteListUrls\[0\]|format/],
      [{ name: "Bad", redirectUrl: "https://ok.example", logoUrl: "data:image/png;base64,AAAA" }, /logoUrl must be an http or https URL/],
      [{ name: " ", redirectUrl: "https://ok.example" }, /name must not be empty/],
    ] as const) {
      assertErrorMessage(await server.api("PUT", "/profile", body), 400, JSON.stringify(body), message);
    }
    assert.deepEqual((await server.api("GET", "/profile")).body, { name: "Kept", redirectUrl: "https://kept.example/done", whiteListUrls: [] });
  });

  test("after a link the customer is sent to the client's redirectUrl, built with Hosted Link's placeholders", { skip: skipWithoutBrowser }, async (t) => {
    const landing = createServer((_request, response) => response.writeHead(200, { "content-type": "text/html" }).end("<h1>Back at the client</h1>"));
    landing.listen(0, "127.0.0.1");
    await once(landing, "listening");
    t.after(() => landing.close());
    const port = (landing.address() as AddressInfo).port;
    const server = await withServer(t);
    await server.api("PUT", "/profile", {
      name: "Bob's Burgers",
      redirectUrl: `http://127.0.0.1:${port}/{sourceType}/{journeyType}?status={statusCode}&error={errorMessage}&text={statusText}&company={companyId}&connection={connectionId}&platform={platform}&name={platformName}&missing={clientType}`,
    });
    const company = (await server.api("POST", "/companies", { name: "Harbour Bakery" })).body;
    const page = await (await withBrowser(t)).newPage();

    await page.goto(`${company.redirect}?journeyType=demo`);
    await page.getByRole("button", { name: /Connect Hookline Sandbox/ }).click();
    await page.waitForSelector("#cancel");
    assert.match((await page.textContent("body")) ?? "", /Bob's Burgers asks Harbour Bakery to share its banking data/, "the page names the client");
    await screenshot(page, "profile-consent-names-client");
    await page.click("#cancel");
    await page.waitForURL(new RegExp(`^http://127.0.0.1:${port}/`));
    await screenshot(page, "profile-redirect-cancelled");
    const connection = (await server.api("GET", `/companies/${company.id}/connections`)).body.results[0];
    const landed = new URL(page.url());
    assert.equal(landed.pathname, "/Banking/demo");
    assert.deepEqual(Object.fromEntries(landed.searchParams), {
      status: "403",
      error: "User cancelled.",
      text: "User cancelled linking",
      company: company.id,
      connection: connection.id,
      platform: "sand",
      name: "Hookline Sandbox",
      missing: "",
    });

    await page.goto(`${connection.linkUrl}?journeyType=again`);
    await page.click("#authorize");
    await page.waitForURL(new RegExp(`^http://127.0.0.1:${port}/Banking/again\\?status=200&error=&text=&`));
  });
});
