import assert from "node:assert/strict";
import { test } from "node:test";
import { newId, type AttemptId, type ClientId, type ConsumerId, type DeliveryId, type MessageId } from "../../src/ids.ts";
import { purgeExpired } from "../../src/domain/retention.ts";
import { countActivityHoursByBucket, deleteActivityHoursBefore, HOUR_MS } from "../../src/storage/activity-hours.ts";
import { insertAttempts } from "../../src/storage/attempts.ts";
import { Store } from "../../src/storage/database.ts";
import { deleteDeliveriesOfConsumer } from "../../src/storage/deliveries/on-consumer-change.ts";
import { migratorOf } from "../../src/storage/migrations/index.ts";
import { countAttemptsByBucket } from "../../src/storage/portal-activity.ts";
import type { AttemptsTable } from "../../src/storage/schema.ts";
import { createTestDatabase } from "../support/database.ts";
import { openTestStore } from "../support/storage.ts";

const DAY_MS = 24 * HOUR_MS;
const START = Date.UTC(2026, 0, 5);

/** `count` attempts of the client's consumer spread over the week after START, every third failed, in batches as the worker records them. */
function attempts(clientId: ClientId, consumerId: ConsumerId, count: number, seed: number): AttemptsTable[] {
  return Array.from({ length: count }, (_, index) => ({
    id: newId<AttemptId>(),
    client_id: clientId,
    delivery_id: newId<DeliveryId>(),
    message_id: newId<MessageId>(),
    consumer_id: consumerId,
    attempt_number: 1,
    // Spread unevenly, hour boundaries included.
    started_at: START + ((index * 7_919_993 + seed * 104_729) % (7 * DAY_MS)) - (index % 5 === 0 ? (START % HOUR_MS) + 1 : 0),
    duration_ms: 10,
    status_code: index % 3 === 0 ? 500 : 200,
    response_excerpt: null,
    error: null,
    succeeded: index % 3 === 0 ? 0 : 1,
  }));
}

test("the hourly counts hold every attempt logged, per client and consumer: the charts' buckets match a count of the attempts", async (t) => {
  const { store, openAnother } = await openTestStore(t);
  const other = await openAnother();
  const [clientA, clientB] = [newId<ClientId>(), newId<ClientId>()];
  const [first, second, third] = [newId<ConsumerId>(), newId<ConsumerId>(), newId<ConsumerId>()];
  const logged = [...attempts(clientA, first, 900, 1), ...attempts(clientA, second, 700, 2), ...attempts(clientB, third, 500, 3)];
  // Batches of 50 from two processes at once, as two workers record outcomes: no count is lost to the other's.
  const batches = Array.from({ length: Math.ceil(logged.length / 50) }, (_, index) => logged.slice(index * 50, index * 50 + 50));
  await Promise.all(batches.map((batch, index) => (index % 2 === 0 ? store : other).transaction(({ tx }) => insertAttempts(tx, batch))));

  for (const bucketMs of [HOUR_MS, 6 * HOUR_MS]) {
    for (const [clientId, consumerIds] of [
      [clientA, undefined],
      [clientA, [second]],
      [clientB, undefined],
      [clientA, [third]],
    ] as const) {
      const since = START + DAY_MS;
      const counted = await countAttemptsByBucket(store.db, clientId, since, bucketMs, consumerIds);
      const summed = await countActivityHoursByBucket(store.db, clientId, since, bucketMs, consumerIds);
      assert.deepEqual(summed, counted, `buckets of ${bucketMs / HOUR_MS} h for ${clientId === clientA ? "A" : "B"} ${consumerIds ?? "all"}`);
    }
  }
  const all = await countActivityHoursByBucket(store.db, clientA, 0, 6 * HOUR_MS);
  assert.equal(
    all.reduce((total, bucket) => total + bucket.succeeded + bucket.failed, 0),
    1600,
    "client A's attempts, not B's",
  );
  assert.deepEqual(await countActivityHoursByBucket(store.db, clientB, 0, HOUR_MS, [first]), [], "another client's consumer counts nothing");
});

test("retention deletes the counts of hours that ended by its cutoff, and deleting a consumer deletes its counts", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = newId<ClientId>();
  const [kept, deleted] = [newId<ConsumerId>(), newId<ConsumerId>()];
  await store.transaction(({ tx }) => insertAttempts(tx, [...attempts(clientId, kept, 300, 4), ...attempts(clientId, deleted, 300, 5)]));
  const cutoff = START + 3 * DAY_MS + HOUR_MS / 2;
  assert.ok((await deleteActivityHoursBefore(store, cutoff)) > 0);
  const left = await store.db.selectFrom("activity_hours").select(["hour_start", "consumer_id"]).execute();
  assert.ok(left.length > 0);
  assert.equal(Math.min(...left.map((row) => Number(row.hour_start))), cutoff - HOUR_MS / 2, "the hour the cutoff falls in stays");

  // The retention job's run deletes them with the messages (there are none here older than its cutoff).
  const later = cutoff + 2 * DAY_MS;
  const run = await purgeExpired(store, later + 3 * DAY_MS, {
    idempotencyKeyTtlMs: DAY_MS,
    messages: { messageRetentionMs: 3 * DAY_MS, payloadRetentionMs: null, retentionIntervalMs: HOUR_MS, recoveryRatePerSecond: 100 },
    insight: { abandonAfterMs: DAY_MS, alertIntervalMs: HOUR_MS, stepRepeatWindowMs: HOUR_MS, stepRetentionMs: null },
  });
  assert.ok(run.deleted.activityHours > 0);
  const oldest = await store.db
    .selectFrom("activity_hours")
    .select((eb) => eb.fn.min("hour_start").as("first"))
    .executeTakeFirst();
  assert.equal(Number(oldest?.first), later - (later % HOUR_MS), "the retention job's run deletes the hours that ended by its cutoff");

  await store.transaction(({ tx }) => deleteDeliveriesOfConsumer(tx, clientId, deleted));
  const consumers = await store.db.selectFrom("activity_hours").select("consumer_id").distinct().execute();
  assert.deepEqual(
    consumers.map((row) => row.consumer_id),
    [kept],
  );
});

test("the migration counts the attempts already logged", async (t) => {
  const database = await createTestDatabase();
  const store = await Store.open(database.url);
  t.after(async () => {
    await store.close();
    await database.drop();
  });
  const { error } = await migratorOf(store.db).migrateTo("019_credentials_and_operator_tokens");
  assert.equal(error, undefined);
  const clientId = newId<ClientId>();
  const consumerId = newId<ConsumerId>();
  const logged = attempts(clientId, consumerId, 400, 6);
  await store.db.insertInto("attempts").values(logged).execute();
  await store.migrate();
  assert.deepEqual(await countActivityHoursByBucket(store.db, clientId, 0, HOUR_MS), await countAttemptsByBucket(store.db, clientId, 0, HOUR_MS));
});
