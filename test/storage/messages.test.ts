import assert from "node:assert/strict";
import { test } from "node:test";
import { newId, type ClientId, type ConsumerId, type MessageId } from "../../src/ids.ts";
import type { Store } from "../../src/storage/database.ts";
import { insertRecords } from "../../src/storage/json-records.ts";
import { insertMessagesAfterReads, lockMessages, type NewMessage } from "../../src/storage/messages.ts";
import type { MessagesTable } from "../../src/storage/schema.ts";
import { deferred, keepingProcessAlive, nextTimestamp, openTestStore, seedClient, settledOrWaitingForLock, testDialect, watch } from "../support/storage.ts";

async function seedMessages(store: Store, clientId: ClientId, count: number, message: Partial<MessagesTable> = {}): Promise<MessagesTable[]> {
  const rows: MessagesTable[] = Array.from({ length: count }, () => ({
    id: newId<MessageId>(),
    client_id: clientId,
    event_type: "company.created",
    company_id: null,
    body: "{}",
    created_at: nextTimestamp(),
    payload_purged_at: null,
    example: 0,
    source_message_id: null,
    ...message,
  }));
  await store.transaction(({ tx }) => insertRecords(tx, "messages", rows));
  return rows;
}

test("lockMessages reads the client's messages among the ids, in id order, with their company and whether their body was purged", async (t) => {
  const { store } = await openTestStore(t);
  const clientA = await seedClient(store, "A");
  const clientB = await seedClient(store, "B");
  const held = await seedMessages(store, clientA, 3);
  const [purged] = await seedMessages(store, clientA, 1, { body: "", payload_purged_at: 7_000 });
  const [foreign] = await seedMessages(store, clientB, 1);
  const asked = [held[2]!.id, purged!.id, foreign!.id, newId<MessageId>(), held[0]!.id];

  const locked = await store.transaction(({ tx }) => lockMessages(tx, clientA, asked));
  const expected = [
    { id: held[2]!.id, company_id: null, payload_purged_at: null },
    { id: purged!.id, company_id: null, payload_purged_at: 7_000 },
    { id: held[0]!.id, company_id: null, payload_purged_at: null },
  ].sort((a, b) => (a.id < b.id ? -1 : 1));
  assert.deepEqual(locked, expected);
  assert.deepEqual(await store.transaction(({ tx }) => lockMessages(tx, clientA, [])), []);
  assert.deepEqual(await store.transaction(({ tx }) => lockMessages(tx, clientA, [foreign!.id])), [], "B's message is not A's to lock");
});

test(
  "a message lockMessages holds makes another transaction's lockMessages wait until the first ends",
  { timeout: 60_000, skip: testDialect !== "postgres" && "row locks are PostgreSQL's" },
  async (t) => {
    const testStore = await openTestStore(t);
    const { store } = testStore;
    const other = await testStore.openAnother();
    const clientId = await seedClient(store);
    const [message] = await seedMessages(store, clientId, 1);
    const order: string[] = [];
    const locked = deferred();
    const release = deferred();
    const first = store.transaction(async ({ tx }) => {
      await lockMessages(tx, clientId, [message!.id]);
      locked.resolve();
      await release.promise;
      order.push("first ends");
    });
    await locked.promise;
    const second = watch(
      other.transaction(async ({ tx }) => {
        const rows = await lockMessages(tx, clientId, [message!.id]);
        order.push("second holds the lock");
        return rows;
      }),
    );
    await settledOrWaitingForLock(testStore.url, second);
    const settledWhileHeld = second.settled;
    release.resolve();
    await first;
    assert.equal(settledWhileHeld, false, "the second lock waits");
    assert.deepEqual(await second.promise, [{ id: message!.id, company_id: null, payload_purged_at: null }]);
    assert.deepEqual(order, ["first ends", "second holds the lock"]);
  },
);

test("messages stored after reads by many callers at once: each caller gets its own answer or its own error, and workers are woken", async (t) => {
  const testStore = await openTestStore(t);
  const { store } = testStore;
  const clientId = await seedClient(store);
  const consumerId = newId<ConsumerId>();
  const woken = deferred();
  await (await testStore.openAnother()).onWake(() => woken.resolve());
  const message = (): NewMessage => ({
    id: newId<MessageId>(),
    client_id: clientId,
    event_type: "read.completed",
    company_id: null,
    body: "{}",
    created_at: nextTimestamp(),
    example: 0,
    source_message_id: null,
  });
  // Issued together, so that on PostgreSQL all but the first wait for the first's statement and are written together:
  // a delivery of a message nobody stored fails its own publish, a plan that throws writes nothing, and the rest are stored.
  const plans = Array.from({ length: 24 }, (_, index) => {
    const messages = [message(), message()];
    return { index, messages, orphan: index % 8 === 3, refused: index % 8 === 5 };
  });
  const outcomes = await Promise.allSettled(
    plans.map(({ index, messages, orphan, refused }) =>
      insertMessagesAfterReads(store, async () => {
        if (refused) throw new Error(`plan ${index} refused`);
        const messageId = orphan ? newId<MessageId>() : messages[0]!.id;
        return {
          write: { messages, deliveries: [{ clientId, messageId, consumerId, companyId: null, dueAt: 1, createdAt: 1 }], toOrderedConsumers: false },
          value: index,
        };
      }),
    ),
  );
  for (const [index, outcome] of outcomes.entries()) {
    const { orphan, refused } = plans[index]!;
    if (refused) assert.deepEqual(outcome, { status: "rejected", reason: new Error(`plan ${index} refused`) });
    else if (orphan) assert.match(String((outcome as PromiseRejectedResult).reason), /foreign key/i, `publish ${index} fails on its own`);
    else assert.deepEqual(outcome, { status: "fulfilled", value: index });
  }
  const stored = plans.filter(({ orphan, refused }) => !orphan && !refused);
  const ids = (rows: Array<{ id: string }>) => rows.map((row) => row.id).sort();
  assert.deepEqual(ids(await store.db.selectFrom("messages").select("id").execute()), ids(stored.flatMap(({ messages }) => messages)));
  assert.deepEqual(
    (await store.db.selectFrom("deliveries").select("message_id as id").execute()).map((row) => row.id).sort(),
    stored.map(({ messages }) => messages[0]!.id).sort(),
  );
  await keepingProcessAlive(woken.promise);
});
