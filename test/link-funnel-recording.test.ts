import assert from "node:assert/strict";
import { test } from "node:test";
import SqliteDatabase from "better-sqlite3";
import pg from "pg";
import { sqliteFileOf } from "../src/storage/database.ts";
import { subscribe } from "./support/consumers.ts";
import { pressLinkButton } from "./support/link-page.ts";
import { withReceiver } from "./support/receiver.ts";
import { withServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

/** Runs one statement on the server's database from outside it, as an operator's mistake or a broken disk would. */
async function onDatabase(databaseUrl: string, statement: string): Promise<void> {
  const file = sqliteFileOf(databaseUrl);
  if (file) {
    const sqlite = new SqliteDatabase(file);
    sqlite.exec(statement);
    sqlite.close();
    return;
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(statement);
  await client.end();
}

test("a journey that cannot be recorded leaves the link flow and its events as they were", async (t) => {
  const server = await withServer(t);
  const receiver = await withReceiver(t);
  await subscribe(server, receiver.url, { eventTypes: ["connection.connected"] });
  const company = (await server.api("POST", "/companies", { name: "Toft stores" })).body;
  const connection = (await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
  await until("the created step", async () => (await server.api("GET", "/insights/connections")).body.total.created === 1);

  // Every later step now fails to be written.
  await onDatabase(server.database.url, "ALTER TABLE link_steps RENAME TO link_steps_away");
  const answer = await pressLinkButton(connection.linkUrl, "authorize");
  assert.equal(answer.status, 200);
  assert.match(await answer.text(), /Your data is now connected/);
  const [webhook] = await receiver.waitFor(1);
  assert.equal(JSON.parse(webhook!.body).eventType, "connection.connected");
  assert.equal((await server.api("GET", `/companies/${company.id}/connections/${connection.id}`)).body.status, "Linked");
  const warnings = await until(
    "the warning",
    async () =>
      server
        .logs()
        .split("\n")
        .filter((line) => line.includes("recording a link step failed; the link flow went on")),
    (lines) => lines.length > 0,
  );
  assert.ok(
    warnings.every((line) => !line.includes(connection.id) && !line.includes(company.id)),
    "the warning does not name the ids that open the link page",
  );
  await onDatabase(server.database.url, "ALTER TABLE link_steps_away RENAME TO link_steps");
});

test("the served OpenAPI document describes the insight endpoints and events", async (t) => {
  const server = await withServer(t);
  const document = await (await fetch(`${server.baseUrl}/openapi.json`)).json();
  for (const [path, method] of [
    ["/insights/connections", "get"],
    ["/insights/connections/attention", "get"],
    ["/companies/{companyId}/connections/{connectionId}/link-reminder", "post"],
    ["/insights/alerts", "post"],
    ["/insights/alerts", "get"],
    ["/insights/alerts/{alertId}", "delete"],
  ] as const) {
    assert.ok(document.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
  }
  for (const eventType of ["connection.link.reminder", "connection.insight.alert", "connection.insight.resolved"]) {
    assert.ok(document.webhooks[eventType]?.post.requestBody.content["application/json"].schema, eventType);
  }
});
