import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { SANDBOX_CREDENTIALS } from "../src/integrations/sandbox/sandbox.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { Receiver, type ReceivedWebhook } from "./support/receiver.ts";
import { pressLinkButton } from "./support/link-page.ts";
import { eventSchemaErrors } from "./support/schemas.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const ALL_EVENTS = [
  "company.created",
  "company.deleted",
  "connection.created",
  "connection.connected",
  "connection.failed",
  "connection.disconnected",
  "connection.reconnected",
  "connection.deleted",
];

let server: TestServer;
let receiver: Receiver;
let secret: string;

before(async () => {
  server = await startTestServer();
  receiver = await Receiver.start();
  const consumer = await server.api("POST", "/webhooks", { url: receiver.url, eventTypes: ALL_EVENTS });
  assert.equal(consumer.status, 201);
  secret = (await server.api("GET", `/webhooks/${consumer.body.id}/secret`)).body.key;
});
after(async () => {
  await server.close();
  await receiver.close();
});
beforeEach(() => {
  receiver.received.length = 0;
});

/** Waits for `count` webhooks and checks each one as a consumer would: signature, schema, parsed body. */
async function receive(count: number) {
  const webhooks = await receiver.waitFor(count);
  assert.equal(webhooks.length, count, "no unexpected extra webhooks");
  return webhooks.map((webhook) => {
    assertVerified(webhook);
    assert.deepEqual(eventSchemaErrors(webhook.body), [], `${webhook.body} matches its OpenAPI webhook schema`);
    return JSON.parse(webhook.body);
  });
}

function assertVerified(webhook: ReceivedWebhook) {
  const headers = {
    "webhook-id": String(webhook.headers["webhook-id"]),
    "webhook-timestamp": String(webhook.headers["webhook-timestamp"]),
    "webhook-signature": String(webhook.headers["webhook-signature"]),
  };
  assert.deepEqual(new StandardWebhook(secret).verify(webhook.body, headers), JSON.parse(webhook.body));
  assert.deepEqual(new SvixWebhook(secret).verify(webhook.body, headers), JSON.parse(webhook.body));
  assert.equal(headers["webhook-id"], JSON.parse(webhook.body).id, "webhook-id is the event id");
  assert.throws(() => new SvixWebhook(secret).verify(webhook.body.replace("}", " }"), headers), "a changed body fails verification");
}

async function companyWithConnection(tags: Record<string, string> = { region: "us", uid: "335a086e" }) {
  const company = (await server.api("POST", "/companies", { name: "Toft stores", tags })).body;
  const connection = (await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" })).body;
  await receive(2);
  receiver.received.length = 0;
  return { company, connection };
}

describe("the hosted link page", () => {
  test("is plain HTML with Authorize and Cancel forms and no script", async () => {
    const { connection } = await companyWithConnection();
    const response = await fetch(connection.linkUrl);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
    const html = await response.text();
    assert.doesNotMatch(html, /<script/i);
    assert.match(html, /<form method="post" action="[^"]*\/authorize"[^>]*><input type="hidden" name="token"[^>]*><button[^>]*>Authorize<\/button><\/form>/);
    assert.match(html, /<form method="post" action="[^"]*\/cancel"[^>]*><input type="hidden" name="token"[^>]*><button[^>]*>Cancel<\/button><\/form>/);
  });

  test("Cancel keeps PendingAuth, records the error and emits connection.failed", async () => {
    const { company, connection } = await companyWithConnection();
    const page = await pressLinkButton(connection.linkUrl, "cancel");
    assert.equal(page.status, 200);
    assert.match(await page.text(), /cancelled/i);

    const [event] = await receive(1);
    assert.equal(event.eventType, "connection.failed");
    assert.equal(event.payload.connection.id, connection.id);
    assert.equal(event.payload.connection.status, "PendingAuth");
    const [error] = event.payload.connection.dataConnectionErrors;
    assert.deepEqual(
      { ...error, erroredOnUtc: undefined },
      { statusCode: "403", statusText: "User cancelled linking", errorMessage: "User cancelled", status: "Active", erroredOnUtc: undefined },
    );
    assert.ok(!Number.isNaN(Date.parse(error.erroredOnUtc)));
    assert.deepEqual(event.payload.referenceCompany, {
      id: company.id,
      name: "Toft stores",
      links: { portal: `${server.baseUrl}/portal/companies/${company.id}/summary` },
      tags: { region: "us", uid: "335a086e" },
    });

    const stored = (await server.api("GET", `/companies/${company.id}/connections/${connection.id}`)).body;
    assert.equal(stored.status, "PendingAuth");
    assert.deepEqual(stored.dataConnectionErrors, event.payload.connection.dataConnectionErrors);
  });

  test("Authorize after a cancel links, resolves the earlier error and emits connection.connected", async () => {
    const { connection } = await companyWithConnection();
    await pressLinkButton(connection.linkUrl, "cancel");
    await receive(1);
    receiver.received.length = 0;
    const page = await pressLinkButton(connection.linkUrl, "authorize");
    assert.match(await page.text(), /Linked/);

    const [event] = await receive(1);
    assert.equal(event.eventType, "connection.connected");
    assert.equal(event.payload.connection.status, "Linked");
    const [error] = event.payload.connection.dataConnectionErrors;
    assert.equal(error.status, "Resolved");
    assert.ok(Date.parse(error.resolvedOnUtc) >= Date.parse(error.erroredOnUtc));
  });
});

describe("every state change emits its event", () => {
  test("credentials, unlink, reconnect and delete walk the connection through its life", async () => {
    const { company, connection } = await companyWithConnection();
    const path = `/companies/${company.id}/connections/${connection.id}`;

    const wrong = await server.api("PUT", `${path}/authorization`, { username: "sandbox", password: "guess" });
    assert.equal(wrong.status, 200);
    assert.equal(wrong.body.status, "PendingAuth");
    const [failed] = await receive(1);
    assert.equal(failed.eventType, "connection.failed");
    assert.equal(failed.payload.connection.dataConnectionErrors[0].statusCode, "401");

    receiver.received.length = 0;
    assert.equal((await server.api("PUT", `${path}/authorization`, SANDBOX_CREDENTIALS)).body.status, "Linked");
    assert.equal((await receive(1))[0].eventType, "connection.connected");

    receiver.received.length = 0;
    assert.equal((await server.api("PATCH", path, { status: "Unlinked" })).body.status, "Unlinked");
    const [disconnected] = await receive(1);
    assert.equal(disconnected.eventType, "connection.disconnected");
    assert.equal(disconnected.payload.connection.status, "Unlinked");

    receiver.received.length = 0;
    await pressLinkButton(connection.linkUrl, "authorize");
    const [reconnected] = await receive(1);
    assert.equal(reconnected.eventType, "connection.reconnected");
    assert.equal(reconnected.payload.connection.status, "Linked");

    receiver.received.length = 0;
    assert.equal((await server.api("DELETE", path)).status, 200);
    const [deleted] = await receive(1);
    assert.equal(deleted.eventType, "connection.deleted");
    assert.equal(deleted.payload.connection.id, connection.id);
  });

  test("company created and deleted, with connection.deleted for the connections it took along", async () => {
    const created = (await server.api("POST", "/companies", { name: "Short lived", tags: { team: "risk" } })).body;
    const [companyCreated] = await receive(1);
    assert.equal(companyCreated.eventType, "company.created");
    assert.equal(companyCreated.payload.id, created.id);
    assert.deepEqual(companyCreated.payload.tags, { team: "risk" });

    receiver.received.length = 0;
    const connection = (await server.api("POST", `/companies/${created.id}/connections`, { platformKey: "sand" })).body;
    const [connectionCreated] = await receive(1);
    assert.equal(connectionCreated.eventType, "connection.created");
    assert.equal(connectionCreated.payload.connection.status, "PendingAuth");

    receiver.received.length = 0;
    assert.equal((await server.api("DELETE", `/companies/${created.id}`)).status, 204);
    // Deliveries to one consumer may arrive in any order, as with any webhook service.
    const events = (await receive(2)).sort((a, b) => a.eventType.localeCompare(b.eventType));
    assert.deepEqual(
      events.map((event) => event.eventType),
      ["company.deleted", "connection.deleted"],
    );
    assert.equal(events[0].payload.id, created.id);
    assert.equal(events[1].payload.connection.id, connection.id);
  });

  test("Authorize pressed several times at once links once and emits one connection.connected", async () => {
    const { connection } = await companyWithConnection();
    const presses = await Promise.all(Array.from({ length: 5 }, () => pressLinkButton(connection.linkUrl, "authorize")));
    assert.ok(presses.every((press) => press.status === 200));
    const marker = (await server.api("POST", "/companies", { name: "After the presses" })).body;
    await until("the marker's company.created", async () => receiver.events().some((event) => event.payload.id === marker.id));
    // Deliveries may overtake each other: count what came once none is pending.
    const pending = () => server.hookline.ctx.store.db.selectFrom("deliveries").select("id").where("status", "<>", "Success").execute();
    await until("every delivery to succeed", pending, (rows) => rows.length === 0);
    assert.deepEqual(
      receiver
        .events()
        .map((event) => event.eventType)
        .sort(),
      ["company.created", "connection.connected"],
    );
  });

  test("unlinking a connection that never linked is refused and emits nothing", async () => {
    const { company, connection } = await companyWithConnection();
    const response = await server.api("PATCH", `/companies/${company.id}/connections/${connection.id}`, { status: "Unlinked" });
    assertErrorMessage(response, 400);
    const marker = (await server.api("POST", "/companies", { name: "Marker" })).body;
    const [next] = await receive(1);
    assert.equal(next.payload.id, marker.id, "the next webhook is the marker, so the refused unlink sent none");
  });
});
