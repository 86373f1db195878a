import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { assertErrorMessage } from "./support/errors.ts";
import { openLinkPage, postLinkForm, pressLinkButton } from "./support/link-page.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;

before(async () => {
  server = await startTestServer();
});
after(() => server.close());

async function companyWithConnection() {
  const company = (await server.api("POST", "/companies", { name: "Toft stores" })).body;
  const connection = (await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
  return { company, connection };
}

const connectionOf = async (companyId: string, connectionId: string) => (await server.api("GET", `/companies/${companyId}/connections/${connectionId}`)).body;

function assertPageHeaders(response: Response, what: string): void {
  assert.match(response.headers.get("content-type") ?? "", /^text\/html/, what);
  const csp = response.headers.get("content-security-policy") ?? "";
  for (const directive of ["default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"])
    assert.ok(csp.includes(directive), `${what}: CSP has ${directive} (${csp})`);
  assert.doesNotMatch(csp, /script-src/, `${what}: no script may run`);
  assert.equal(response.headers.get("x-frame-options"), "DENY", what);
  assert.equal(response.headers.get("referrer-policy"), "same-origin", what);
  assert.equal(response.headers.get("x-content-type-options"), "nosniff", what);
}

test("every link page refuses framing, runs no script and keeps its URL from other sites", async () => {
  const { company, connection } = await companyWithConnection();
  assertPageHeaders((await openLinkPage(company.redirect ?? `${server.baseUrl}/link/companies/${company.id}`)).response, "the company's page");
  assertPageHeaders((await openLinkPage(connection.linkUrl)).response, "the connection's page");
  assertPageHeaders(await pressLinkButton(connection.linkUrl, "cancel"), "the outcome page");
});

test("a form POST from another site, or without its page's token, links nothing and records nothing", async () => {
  const { company, connection } = await companyWithConnection();
  const other = await companyWithConnection();
  const { token } = await openLinkPage(connection.linkUrl);
  const otherToken = (await openLinkPage(other.connection.linkUrl)).token;
  const authorize = connection.linkUrl.replace(/\/start$/, "/authorize");
  const cancel = connection.linkUrl.replace(/\/start$/, "/cancel");
  const refused: Array<[string, Promise<Response>]> = [
    ["another site's page, even with the token", postLinkForm(authorize, { token }, { origin: "https://evil.example" })],
    ["an Origin hidden as null", postLinkForm(authorize, { token }, { origin: "null" })],
    ["neither Origin nor Referer", postLinkForm(authorize, { token }, {})],
    ["a Referer on another site", postLinkForm(authorize, { token }, { referer: "https://evil.example/page" })],
    ["no token", postLinkForm(authorize, {})],
    ["a wrong token", postLinkForm(authorize, { token: token.replace(/^./, (first) => (first === "A" ? "B" : "A")) })],
    ["the token of another connection's page", postLinkForm(authorize, { token: otherToken })],
    ["Cancel from another site", postLinkForm(cancel, { token }, { origin: "https://evil.example" })],
  ];
  for (const [what, answer] of refused) {
    const response = await answer;
    assertErrorMessage({ status: response.status, headers: response.headers, body: await response.json() }, 403, what, /not sent from its link page/);
  }
  const unchanged = await connectionOf(company.id, connection.id);
  assert.equal(unchanged.status, "PendingAuth");
  assert.deepEqual(unchanged.dataConnectionErrors, [], "no refused Cancel recorded an error");

  // A browser too old to send Origin sends the page as Referer: that is accepted, with the token.
  const linked = await postLinkForm(authorize, { token }, { referer: connection.linkUrl });
  assert.equal(linked.status, 200);
  assert.equal((await connectionOf(company.id, connection.id)).status, "Linked");
});

test("a company's page creates a connection only through its own form", async () => {
  const company = (await server.api("POST", "/companies", { name: "Lone company" })).body;
  const pageUrl = `${server.baseUrl}/link/companies/${company.id}`;
  const { token } = await openLinkPage(pageUrl);
  const action = `${pageUrl}/connections`;
  for (const [what, answer] of [
    ["another site", postLinkForm(action, { token, platformKey: "sand" }, { origin: "https://evil.example" })],
    ["no token", postLinkForm(action, { platformKey: "sand" })],
  ] as const) {
    assert.equal((await answer).status, 403, what);
  }
  assert.equal((await server.api("GET", `/companies/${company.id}/connections`)).body.totalResults, 0);

  const created = await postLinkForm(action, { token, platformKey: "sand" });
  assert.equal(created.status, 303);
  const [connection] = (await server.api("GET", `/companies/${company.id}/connections`)).body.results;
  assert.equal(created.headers.get("location"), new URL(connection.linkUrl).pathname);
});

test("request logs show a link page's route, never the ids in its URL", async () => {
  const { company, connection } = await companyWithConnection();
  await pressLinkButton(connection.linkUrl, "authorize");
  await openLinkPage(`${server.baseUrl}/link/companies/${company.id}`);
  await fetch(`${server.baseUrl}/link/companies/${company.id}/connections/${connection.id}/nowhere`);
  const linkLines = server
    .logs()
    .split("\n")
    .filter((line) => line.includes('"url":"/link/'));
  assert.ok(linkLines.length >= 4, `the link requests were logged (${linkLines.length} lines)`);
  for (const line of linkLines) {
    assert.ok(!line.includes(company.id) && !line.includes(connection.id), `no link id in ${line}`);
  }
  assert.ok(
    linkLines.some((line) => line.includes('"url":"/link/companies/:companyId/connections/:connectionId/authorize"')),
    "the route is logged instead",
  );
});
