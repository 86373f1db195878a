import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { cli, runCli, runCliWith } from "./support/cli.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

/** What a failed CLI run printed on standard error. */
async function failure(run: Promise<unknown>): Promise<string> {
  const error = await run.then(
    () => assert.fail("the command should have failed"),
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal(error.code, 1);
  return error.stderr;
}

describe("the companies, connections and webhooks CLI", () => {
  let server: TestServer;
  let receiver: Receiver;
  before(async () => {
    server = await startTestServer();
    receiver = await Receiver.start();
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test("companies: create with tags, list as a table or JSON (with Codat's query), get", async () => {
    const created = JSON.parse(
      await cli(server, "companies", "create", "Toft stores", "--tag", "region=uk", "--tag", "team=invoice-finance", "--description", "ours: 42"),
    );
    assert.deepEqual([created.name, created.tags, created.description], ["Toft stores", { region: "uk", team: "invoice-finance" }, "ours: 42"]);
    assert.equal((await server.api("GET", `/companies/${created.id}`)).body.name, "Toft stores", "the API sees it");
    await cli(server, "companies", "create", "Elsewhere", "--tag", "region=us");

    const table = await cli(server, "companies", "list");
    const [heading, ...rows] = table.trimEnd().split("\n");
    assert.match(heading!, /^ID +NAME +TAGS +CONNECTIONS +CREATED$/);
    assert.equal(rows.length, 2);
    assert.ok(rows.some((row) => row.startsWith(created.id) && row.includes("Toft stores") && row.includes("region=uk team=invoice-finance")));

    const queried = JSON.parse(await cli(server, "companies", "list", "--query", "region = uk", "--json"));
    assert.deepEqual(
      queried.results.map((company: { id: string }) => company.id),
      [created.id],
    );
    assert.equal(queried.totalResults, 1);
    assert.deepEqual(JSON.parse(await cli(server, "companies", "get", created.id)), (await server.api("GET", `/companies/${created.id}`)).body);
  });

  test("companies: what the API refuses, the CLI refuses, and nothing is created", async () => {
    const before = (await server.api("GET", "/companies")).body.totalResults;
    assert.match(await failure(runCli(server.database.url, "companies", "create", "Bad <name>")), /Invalid request: body\/name must match pattern/);
    assert.match(await failure(runCli(server.database.url, "companies", "create", "No tag", "--tag", "region")), /Give each tag as key=value/);
    assert.match(await failure(runCli(server.database.url, "companies", "list", "--page-size", "9000")), /options\/pageSize must be <= 5000/);
    assert.equal((await server.api("GET", "/companies")).body.totalResults, before);
    const other = await server.addClient("Other client");
    const theirs = (await other.api("POST", "/companies", { name: "Theirs" })).body.id;
    assert.match(await failure(runCli(server.database.url, "companies", "get", theirs, "--client", server.clientId)), /Company not found/);
  });

  test("connections: create a sandbox connection, list and get it", async () => {
    const company = (await server.api("POST", "/companies", { name: "Linking" })).body.id;
    const connection = JSON.parse(await cli(server, "connections", "create", "--client", server.clientId, "--company", company, "--platform-key", "sand"));
    assert.equal(connection.status, "PendingAuth");
    assert.equal(connection.linkUrl, `${server.baseUrl}/link/companies/${company}/connections/${connection.id}/start`);
    const table = await cli(server, "connections", "list", "--client", server.clientId, "--company", company);
    assert.match(table, /^ID +INTEGRATION +STATUS +CREATED +LINK URL\n/);
    assert.match(table, new RegExp(`^${connection.id} +\\S+ +PendingAuth `, "m"));
    const listed = JSON.parse(await cli(server, "connections", "list", "--client", server.clientId, "--company", company, "--json"));
    assert.deepEqual(listed.results, [connection]);
    assert.deepEqual(JSON.parse(await cli(server, "connections", "get", connection.id, "--client", server.clientId, "--company", company)), connection);
    assert.match(
      await failure(runCli(server.database.url, "connections", "create", "--client", server.clientId, "--company", company, "--platform-key", "nope")),
      /nope/,
    );
  });

  test("webhooks: create, list, send an example to, and delete a consumer", async () => {
    const client = ["--client", server.clientId];
    // The CLI checks URLs under the same settings as the server: here, loopback receivers allowed.
    const sameSettings = (...args: string[]) => runCliWith({ HOOKLINE_ALLOWED_CIDRS: "127.0.0.0/8" }, server.database.url, ...args);
    const consumer = JSON.parse(
      (await sameSettings("webhooks", "create", ...client, "--url", receiver.url, "--event-types", "connection.failed", "company.created")).stdout,
    );
    assert.deepEqual(consumer.eventTypes, ["connection.failed", "company.created"]);
    assert.match(
      await cli(server, "webhooks", "list", ...client),
      new RegExp(`^${consumer.id} +${receiver.url.replace(/[.]/g, "\\.")} +connection\\.failed company\\.created +- +enabled$`, "m"),
    );
    assert.deepEqual(JSON.parse(await cli(server, "webhooks", "list", ...client, "--json")).results, [consumer]);

    const example = JSON.parse(await cli(server, "webhooks", "example", consumer.id, ...client, "--event-type", "invoices.write.successful"));
    const [received] = await receiver.waitFor(1);
    assert.equal(received!.headers["webhook-id"], example.id, "the example was delivered, signed like any event");
    assert.equal(JSON.parse(received!.body).eventType, "invoices.write.successful");

    assert.match(
      await failure(sameSettings("webhooks", "create", ...client, "--url", receiver.url, "--event-types", "company.exploded")),
      /Unknown event types "company\.exploded"/,
    );
    assert.match(
      await failure(sameSettings("webhooks", "create", ...client, "--url", "http://169.254.169.254/", "--event-types", "company.created")),
      /url is refused/,
    );

    assert.equal((await cli(server, "webhooks", "delete", consumer.id, ...client)).trim(), `Deleted ${consumer.id}.`);
    assert.equal((await server.api("GET", `/webhooks/${consumer.id}`)).status, 404);
    assert.equal((await cli(server, "webhooks", "list", ...client)).trim(), "(none)");
  });
});
