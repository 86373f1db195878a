import assert from "node:assert/strict";
import { test } from "node:test";
import { buildRedirectUrl, isRedirectTemplate, type RedirectValues } from "../../src/domain/redirect-url.ts";

const values: RedirectValues = {
  clientId: "c1",
  companyId: "co1",
  connectionId: "cn1",
  integrationId: "i1",
  sourceId: "s1",
  platform: "acme",
  platformName: "Acme & Sons",
  sourceType: "Accounting",
  failure: null,
};
const failed = (statusCode: string, statusText: string) => ({ ...values, failure: { statusCode, statusText, errorMessage: "whatever the provider said" } });

test("reserved placeholders take Codat's standard status codes and messages; statusText keeps the provider's words", () => {
  const template = "https://redirect.site/{sourceType}/?flow=Codat&statuscode={statusCode}&errormessage={errorMessage}&text={statusText}";
  assert.equal(
    buildRedirectUrl(template, [], values, new URLSearchParams()),
    "https://redirect.site/Accounting/?flow=Codat&statuscode=200&errormessage=&text=",
  );
  assert.equal(
    buildRedirectUrl(template, [], failed("403", "User cancelled linking"), new URLSearchParams()),
    "https://redirect.site/Accounting/?flow=Codat&statuscode=403&errormessage=User%20cancelled.&text=User%20cancelled%20linking",
  );
  assert.equal(
    buildRedirectUrl(template, [], failed("401", "invalid_client"), new URLSearchParams()),
    "https://redirect.site/Accounting/?flow=Codat&statuscode=500&errormessage=Unknown%20error%20occurred.&text=invalid_client",
  );
  assert.equal(buildRedirectUrl("https://r.site/{platformName}", [], values, new URLSearchParams()), "https://r.site/Acme%20%26%20Sons");
});

test("custom placeholders come from the link URL's query, empty when absent (Codat's examples)", () => {
  const template = "https://www.mybank.io/{journeyType}/success?ClientType={clientType}";
  const build = (query: string) => buildRedirectUrl(template, [], values, new URLSearchParams(query));
  assert.equal(build("journeyType=demo&clientType=test"), "https://www.mybank.io/demo/success?ClientType=test");
  assert.equal(build("clientType=test"), "https://www.mybank.io//success?ClientType=test");
  assert.equal(build("journeyType=demo"), "https://www.mybank.io/demo/success?ClientType=");
  assert.equal(build(""), "https://www.mybank.io//success?ClientType=");
});

test("a dynamic host resolves only to an origin listed in whiteListUrls", () => {
  const allowed = ["https://uat.mybank.io/success", "https://prod.mybank.io/success"];
  const build = (query: string) => buildRedirectUrl("https://{environment}.mybank.io/success", allowed, values, new URLSearchParams(query));
  assert.equal(build("environment=uat"), "https://uat.mybank.io/success");
  assert.equal(build("environment=evil"), null);
  assert.equal(buildRedirectUrl("https://{website}/success", allowed, values, new URLSearchParams("website=attacker.example")), null);
  assert.equal(
    buildRedirectUrl("https://mybank.io/{page}", [], values, new URLSearchParams("page=a")),
    "https://mybank.io/a",
    "a placeholder in the path needs no listing",
  );
});

test("no redirect without a usable template", () => {
  assert.equal(buildRedirectUrl("", [], values, new URLSearchParams()), null);
  assert.equal(isRedirectTemplate("https://bobs-burgers.{countrySuffix}/{companyId}"), true);
  assert.equal(isRedirectTemplate("javascript:alert(1)"), false);
  assert.equal(isRedirectTemplate("not a url"), false);
});
