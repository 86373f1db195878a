/**
 * Message retention: messages older than HOOKLINE_MESSAGE_RETENTION are
 * deleted with every row that hangs off them, except while a delivery of
 * theirs is pending, so that a steady stream of events keeps the database's
 * rows (and a SQLite file) bounded. Retention is compressed to a second and
 * the job runs every 200 ms; the tests wait on recorded state, never on time.
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { test } from "node:test";
import { sql } from "kysely";
import { loadConfig } from "../src/config.ts";
import { newId, type ClientId, type DeliveryId, type MessageId } from "../src/ids.ts";
import { subscribe } from "./support/consumers.ts";
import { testDialect } from "./support/database.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { allPages, createCompany, webhookIdOf } from "./support/messages.ts";
import { withReceiver } from "./support/receiver.ts";
import { withServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const DAY = 86_400_000;
const RETENTION_INTERVAL_MS = 200;
/** Two seconds' retention (time enough to read a new message's id from the log), looked at every 200 ms. */
const retention = { messageRetention: "2s", retentionInterval: `${RETENTION_INTERVAL_MS}ms` } as const;

/** The rows stored for one message: itself, its deliveries, their attempts and restarts. */
async function rowsOf(server: TestServer, messageId: string) {
  const db = server.hookline.ctx.store.db;
  const id = messageId as MessageId;
  const deliveryIds = (await db.selectFrom("deliveries").select("id").where("message_id", "=", id).execute()).map((row) => row.id);
  const count = async (query: { executeTakeFirstOrThrow(): Promise<{ n: number | string | bigint }> }) => Number((await query.executeTakeFirstOrThrow()).n);
  return {
    messages: await count(
      db
        .selectFrom("messages")
        .select((eb) => eb.fn.countAll().as("n"))
        .where("id", "=", id),
    ),
    deliveries: deliveryIds.length,
    attempts: await count(
      db
        .selectFrom("attempts")
        .select((eb) => eb.fn.countAll().as("n"))
        .where("message_id", "=", id),
    ),
    restarts: await restartsOf(server, deliveryIds),
  };
}

async function restartsOf(server: TestServer, deliveryIds: readonly DeliveryId[]): Promise<number> {
  if (deliveryIds.length === 0) return 0;
  const row = await server.hookline.ctx.store.db
    .selectFrom("delivery_restarts")
    .select((eb) => eb.fn.countAll().as("n"))
    .where("delivery_id", "in", deliveryIds)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Whether the API still finds the message. */
const found = async (server: TestServer, messageId: string) => (await server.api("GET", `/messages/${messageId}`)).status === 200;

/** Waits until the API no longer finds the message: the retention job deleted it. */
const deleted = (server: TestServer, messageId: string, what: string) => until(what, async () => !(await found(server, messageId)));

/** The status of the message's one delivery, as the API shows it. */
const deliveryStatus = async (server: TestServer, messageId: string) => (await server.api("GET", `/messages/${messageId}`)).body.deliveries?.[0]?.status;

test("messages older than the retention period go with their deliveries and attempts; the API knows them no more than any unknown message", async (t) => {
  const server = await withServer(t, { ...retention, retrySchedule: "none" });
  const receiver = await withReceiver(t);
  const webhookId = await subscribe(server, receiver.url, { eventTypes: ["company.created"] });
  const companyId = await createCompany(server, "Old News Ltd");
  const delivered = webhookIdOf((await receiver.waitFor(1))[0]!);
  // Nobody subscribed to connection.created: a message with no delivery at all.
  assert.equal((await server.api("POST", `/companies/${companyId}/connections`, { platformKey: "sand" })).status, 200);
  const undelivered = (await allPages(server, "/messages?eventType=connection.created"))[0].id as string;
  // An example event, made for one consumer, is a message like any other.
  assert.equal((await server.api("POST", `/webhooks/${webhookId}/examples`, { eventType: "connection.failed" })).status, 202);
  const example = webhookIdOf((await receiver.waitFor(2))[1]!);

  for (const [messageId, what] of [
    [delivered, "the delivered message"],
    [undelivered, "the message no consumer took"],
    [example, "the example event"],
  ] as const) {
    await deleted(server, messageId, `${what} to be deleted`);
    assert.deepEqual(await rowsOf(server, messageId), { messages: 0, deliveries: 0, attempts: 0, restarts: 0 }, `${what}: every row went`);
  }
  assert.equal(receiver.received.length, 2, "deleting sent nothing");

  // Deleted, a message answers exactly as one that never was.
  const unknown = newId<MessageId>();
  for (const path of ["/messages/{id}", "/messages/{id}/attempts", `/webhooks/${webhookId}/messages/{id}/attempts`]) {
    const gone = await server.api("GET", path.replace("{id}", delivered));
    const never = await server.api("GET", path.replace("{id}", unknown));
    assertErrorMessage(gone, 404, path, /Message not found/);
    assert.equal(gone.body.error, never.body.error, path);
  }
  const resend = await server.api("POST", `/webhooks/${webhookId}/messages/${delivered}/resend`);
  assertErrorMessage(resend, 404, "resend", /Message not found/);
  assert.equal(receiver.received.length, 2, "the resend of a deleted message sent nothing");
  const listed = [...(await allPages(server, "/messages")), ...(await allPages(server, `/webhooks/${webhookId}/messages`))].map((message) => message.id);
  for (const messageId of [delivered, undelivered, example]) assert.ok(!listed.includes(messageId), `${messageId} is in no list`);
  assert.match(server.logs(), /deleted expired messages with their deliveries and attempts/);
});

test("a message with a delivery pending stays, body and all, until the delivery is final; then it goes with its restarts too", async (t) => {
  // A retry an hour away: the delivery stays pending until it is resent.
  const server = await withServer(t, { ...retention, retrySchedule: "1h" });
  let held: ServerResponse | undefined;
  const receiver = await withReceiver(t, (index, _webhook, response) => {
    if (index === 0) response.writeHead(503).end();
    else held = response;
  });
  const webhookId = await subscribe(server, receiver.url, { eventTypes: ["company.created"] });
  const companyId = await createCompany(server, "Patient Ltd");
  const pending = webhookIdOf((await receiver.waitFor(1))[0]!);
  await until(
    "the first attempt to fail",
    () => deliveryStatus(server, pending),
    (status) => status === "Attempting",
  );

  // Resent while pending: a restart of its schedule; the resent attempt is held in flight by the receiver.
  assert.equal((await server.api("POST", `/webhooks/${webhookId}/messages/${pending}/resend`)).status, 202);
  await receiver.waitFor(2);
  assert.deepEqual(await rowsOf(server, pending), { messages: 1, deliveries: 1, attempts: 1, restarts: 1 });

  // A message newer than the pending one goes: the runs that deleted it looked at the pending one too.
  assert.equal((await server.api("POST", `/companies/${companyId}/connections`, { platformKey: "sand" })).status, 200);
  const newer = (await allPages(server, "/messages?eventType=connection.created"))[0].id as string;
  await deleted(server, newer, "the newer message, which no consumer took, to be deleted");
  const kept = (await server.api("GET", `/messages/${pending}`)).body;
  assert.deepEqual([kept.deliveries[0].status, kept.payloadPurgedAt, kept.payload.id], ["Sending", null, pending], "kept whole while its delivery is pending");
  assert.deepEqual(await rowsOf(server, pending), { messages: 1, deliveries: 1, attempts: 1, restarts: 1 });

  // The held attempt succeeds: the delivery is final, and the message goes with everything that hung off it.
  held!.writeHead(204).end();
  await deleted(server, pending, "the message to be deleted once its delivery succeeded");
  assert.deepEqual(await rowsOf(server, pending), { messages: 0, deliveries: 0, attempts: 0, restarts: 0 });
  assert.equal(receiver.received.length, 2);
});

/** The retention job's next due time, as its claim records it. */
async function retentionDueAt(server: TestServer): Promise<number | undefined> {
  const row = await server.hookline.ctx.store.db.selectFrom("job_runs").select("due_at").where("name", "=", "retention").executeTakeFirst();
  return row?.due_at;
}

/** Waits until a retention run that started after this call has ended (its claim then points at the next interval). */
async function nextRetentionRun(server: TestServer, after: number | undefined): Promise<number> {
  return until(
    "a retention run to end",
    async () => (await retentionDueAt(server)) ?? 0,
    // While a run goes on its claim holds the job for minutes; once it ended, the job is due at the next interval.
    (dueAt) => dueAt > (after ?? 0) && dueAt <= Date.now() + RETENTION_INTERVAL_MS,
  );
}

/** The client's rows in every table a message has rows in, and attempts whose message is gone. */
async function storedRows(server: TestServer) {
  const db = server.hookline.ctx.store.db;
  const clientId = server.clientId as ClientId;
  const count = async (table: "messages" | "deliveries" | "attempts" | "delivery_restarts") =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as("n"))
          .where("client_id", "=", clientId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  const orphans = await db
    .selectFrom("attempts")
    .select((eb) => eb.fn.countAll().as("n"))
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom("messages").select("id").whereRef("messages.id", "=", "attempts.message_id"))))
    .executeTakeFirstOrThrow();
  return {
    messages: await count("messages"),
    deliveries: await count("deliveries"),
    attempts: await count("attempts"),
    restarts: await count("delivery_restarts"),
    orphanedAttempts: Number(orphans.n),
  };
}

async function pendingDeliveries(server: TestServer): Promise<number> {
  const row = await server.hookline.ctx.store.db
    .selectFrom("deliveries")
    .select((eb) => eb.fn.countAll().as("n"))
    .where("client_id", "=", server.clientId as ClientId)
    .where("status", "in", ["Sending", "Attempting"])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

const sqliteFile = (server: TestServer) => server.database.url.replace(/^sqlite:/, "");
const sizeOf = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};
/** Bytes the SQLite database file takes on disk (0 on PostgreSQL). */
const sqliteFileBytes = (server: TestServer) => (testDialect === "sqlite" ? sizeOf(sqliteFile(server)) : 0);
/** Bytes the SQLite database takes on disk, the file and its write-ahead log. */
const sqliteBytes = (server: TestServer) => (testDialect === "sqlite" ? sizeOf(sqliteFile(server)) + sizeOf(`${sqliteFile(server)}-wal`) : 0);

test("a steady stream of events over many retention periods keeps the stored rows, and a SQLite file, bounded", { timeout: 180_000 }, async (t) => {
  const server = await withServer(t, { ...retention, messageRetention: "1s", retrySchedule: "none" });
  const receiver = await withReceiver(t);
  await subscribe(server, receiver.url, { eventTypes: ["read.completed"] });
  // Each event carries a long validation message (16 KiB): bodies are most of what a message stores.
  const issue = { type: "warning.validation", message: "x".repeat(16 * 1024) };
  const payload = {
    modifiedFromDate: "2024-05-01T00:00:00Z",
    dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete", issues: [issue] }],
  };
  const event = { eventType: "read.completed", payload };

  // One batch of events per retention run: however fast the machine, messages live at most a second and the job
  // runs every 200 ms, so at most about 6 batches are stored at any time (with a margin: 8) while 50 are published.
  const BATCH = 10;
  const ROUNDS = 50;
  const WARM_UP = 10;
  const bound = 8 * BATCH;
  let dueAt = await nextRetentionRun(server, undefined);
  let published = 0;
  const samples: Array<Awaited<ReturnType<typeof storedRows>> & { bytes: number; fileBytes: number }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    const response = await server.api("POST", "/events/batch", { events: Array.from({ length: BATCH }, () => event) });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    published += BATCH;
    await receiver.waitFor(published);
    await until(
      "the batch's deliveries to be final",
      () => pendingDeliveries(server),
      (pending) => pending === 0,
    );
    dueAt = await nextRetentionRun(server, dueAt);
    samples.push({ ...(await storedRows(server)), bytes: sqliteBytes(server), fileBytes: sqliteFileBytes(server) });
  }

  for (const [round, sample] of samples.entries()) {
    assert.ok(sample.messages <= bound, `round ${round}: ${sample.messages} messages stored, at most ${bound} (of ${published} published)`);
    assert.ok(
      sample.deliveries <= sample.messages && sample.attempts <= sample.messages,
      `round ${round}: one delivery and one attempt per stored message at most`,
    );
    assert.deepEqual([sample.restarts, sample.orphanedAttempts], [0, 0], `round ${round}: no restart, no attempt of a deleted message`);
  }
  assert.ok(published >= 5 * bound, "far more were published than are ever stored");

  if (testDialect === "sqlite") {
    const auto = await sql<{ auto_vacuum: number }>`PRAGMA auto_vacuum`.execute(server.hookline.ctx.store.db);
    assert.equal(auto.rows[0]!.auto_vacuum, 2, "a new SQLite database can give space back (incremental auto-vacuum)");
    // Once the first retention periods have passed, the file and its log take the space of about `bound` messages,
    // whatever more are published: the pages of deleted rows are reused.
    const steady = samples[WARM_UP - 1]!;
    const later = samples.slice(WARM_UP).map((sample) => sample.bytes);
    const publishedLater = (ROUNDS - WARM_UP) * BATCH * issue.message.length;
    assert.ok(Math.max(...later) <= steady.bytes * 1.25, `within 1.25 times the ${steady.bytes} bytes of round ${WARM_UP - 1}: ${later.join(", ")}`);
    assert.ok(publishedLater >= steady.bytes, `the bodies published since (${publishedLater} bytes) would have doubled it`);

    // Once nothing is left to keep, the free pages go back to the file system.
    await until("every message to be deleted", async () => (await storedRows(server)).messages === 0);
    await until(
      "the file to shrink to half its size",
      async () => sqliteFileBytes(server),
      (bytes) => bytes <= steady.fileBytes / 2,
    );
  }
});

test("retention settings: messages and payloads are kept 30 days by default; a payload never outlives its message", () => {
  const defaults = loadConfig({}).messages;
  assert.deepEqual([defaults.messageRetentionMs, defaults.payloadRetentionMs], [30 * DAY, 30 * DAY]);
  assert.equal(loadConfig({}).idempotencyKeyTtlMs, DAY);

  const messages = (env: Record<string, string>) => loadConfig(env).messages;
  // Unset, the payload retention follows a shorter message retention, and stays 30 days under a longer one or none.
  assert.deepEqual(messages({ HOOKLINE_MESSAGE_RETENTION: "7d" }).payloadRetentionMs, 7 * DAY);
  assert.deepEqual(messages({ HOOKLINE_MESSAGE_RETENTION: "90d" }).payloadRetentionMs, 30 * DAY);
  assert.deepEqual(
    [messages({ HOOKLINE_MESSAGE_RETENTION: "none" }).messageRetentionMs, messages({ HOOKLINE_MESSAGE_RETENTION: "none" }).payloadRetentionMs],
    [null, 30 * DAY],
  );
  // Set, it may be shorter or as long.
  assert.deepEqual(messages({ HOOKLINE_MESSAGE_RETENTION: "90d", HOOKLINE_PAYLOAD_RETENTION: "90d" }).payloadRetentionMs, 90 * DAY);
  assert.deepEqual(messages({ HOOKLINE_PAYLOAD_RETENTION: "7d" }).payloadRetentionMs, 7 * DAY);
  assert.deepEqual(messages({ HOOKLINE_MESSAGE_RETENTION: "none", HOOKLINE_PAYLOAD_RETENTION: "none" }).payloadRetentionMs, null);

  // Longer than the messages, or kept forever while messages are not: Hookline does not start, and says what to change.
  assert.throws(
    () => loadConfig({ HOOKLINE_PAYLOAD_RETENTION: "90d" }),
    /HOOKLINE_PAYLOAD_RETENTION \(90d, 7776000000 ms\) is longer than HOOKLINE_MESSAGE_RETENTION \(30d, 2592000000 ms, the default\).*set HOOKLINE_MESSAGE_RETENTION to at least as long/,
  );
  assert.throws(
    () => loadConfig({ HOOKLINE_MESSAGE_RETENTION: "7d", HOOKLINE_PAYLOAD_RETENTION: "none" }),
    /HOOKLINE_PAYLOAD_RETENTION \(none\) is longer than HOOKLINE_MESSAGE_RETENTION \(7d/,
  );
  assert.throws(() => loadConfig({ HOOKLINE_MESSAGE_RETENTION: "a month" }), /Invalid duration/);

  // The idempotency key's TTL still never outlives the payloads.
  assert.equal(loadConfig({ HOOKLINE_MESSAGE_RETENTION: "1h" }).idempotencyKeyTtlMs, 3_600_000);
});
