import assert from "node:assert/strict";
import { test } from "node:test";
import { CompiledQuery, sql } from "kysely";
import { newId, type ClientId, type CompanyId, type ConsumerId, type DeliveryId, type MessageId } from "../../src/ids.ts";
import { Store } from "../../src/storage/database.ts";
import { migratorOf } from "../../src/storage/migrations/index.ts";
import { insertConsumer } from "../../src/storage/consumers.ts";
import { oneConsumerOldestFirst } from "../../src/storage/deliveries/one-consumer.ts";
import { PARKED_AT, RELEASE_STEP, releaseForSlots, releaseInSteps, releaseParked, releaseStrandedSlots } from "../../src/storage/deliveries/park.ts";
import type { ConsumerOrdering, ParkedReason } from "../../src/storage/schema.ts";
import { advanceLines, lineHead, relineConsumer } from "../../src/storage/deliveries/fifo.ts";
import { insertRecords } from "../../src/storage/json-records.ts";
import { createTestDatabase } from "../support/database.ts";
import { openTestStore, readTable, seedClient, seedCompany, testDialect } from "../support/storage.ts";

const NOW = 1_000_000;
const LEASE_MS = 60_000;

async function seedConsumer(
  store: Store,
  clientId: ClientId,
  settings: { ordering?: ConsumerOrdering; circuitOpenUntil?: number; listen?: boolean } = {},
): Promise<ConsumerId> {
  const id = newId<ConsumerId>();
  await store.transaction(({ tx }) =>
    insertConsumer(tx, {
      id,
      client_id: clientId,
      url: settings.listen ? `listen:${id}` : "https://receiver.example/hooks",
      event_types: '["company.created"]',
      company_tags: null,
      disabled: 0,
      signing_secret: "sealed",
      created_at: NOW,
      description: null,
      rate_limit: null,
      rate_next_at: null,
      previous_secrets: null,
      custom_headers: null,
      mtls_certificate: null,
      mtls_private_key: null,
      failing_since: null,
      circuit_open_until: settings.circuitOpenUntil ?? null,
      ordering: settings.ordering ?? "unordered",
    }),
  );
  return id;
}

/** Deliveries to the consumer, one message each, in id order: due at each given time, or parked for each given reason; leased when `leased`. */
async function seedDeliveries(
  store: Store,
  clientId: ClientId,
  consumerId: ConsumerId,
  dueTimes: Array<number | ParkedReason>,
  leased = false,
  companyId: CompanyId | null = null,
): Promise<DeliveryId[]> {
  const ids: DeliveryId[] = [];
  for (const due of dueTimes) {
    const id = newId<DeliveryId>();
    const messageId = newId<MessageId>();
    ids.push(id);
    await store.transaction(async ({ tx }) => {
      await tx
        .insertInto("messages")
        .values({
          id: messageId,
          client_id: clientId,
          event_type: "company.created",
          company_id: companyId,
          body: "{}",
          created_at: NOW,
          payload_purged_at: null,
          example: 0,
        })
        .execute();
      await tx
        .insertInto("deliveries")
        .values({
          id,
          client_id: clientId,
          message_id: messageId,
          consumer_id: consumerId,
          status: "Attempting",
          attempt_count: 0,
          company_id: companyId,
          next_attempt_at: typeof due === "number" ? due : PARKED_AT,
          parked_reason: typeof due === "number" ? null : due,
          lease_owner: leased ? "worker-1" : null,
          created_at: NOW,
          updated_at: NOW,
          rate_slot_at: null,
        })
        .execute();
    });
  }
  return ids;
}

/**
 * `count` messages to each of the consumers in one transaction, each
 * delivery as `delivery(index)` says of the index-th message: final (due
 * null), due, or parked.
 */
async function seedMany(
  store: Store,
  clientId: ClientId,
  consumers: readonly ConsumerId[],
  count: number,
  delivery: (index: number) => { next_attempt_at: number | null; parked_reason?: ParkedReason },
): Promise<void> {
  const messages = Array.from({ length: count }, () => ({
    id: newId<MessageId>(),
    client_id: clientId,
    event_type: "company.created",
    company_id: null,
    body: "{}",
    created_at: NOW,
    payload_purged_at: null,
    example: 0,
  }));
  const deliveries = messages.flatMap((message, index) => {
    const { next_attempt_at, parked_reason = null } = delivery(index);
    return consumers.map((consumerId) => ({
      id: newId<DeliveryId>(),
      client_id: clientId,
      message_id: message.id,
      consumer_id: consumerId,
      status: next_attempt_at === null ? ("Success" as const) : ("Attempting" as const),
      attempt_count: 1,
      next_attempt_at,
      parked_reason,
      lease_owner: null,
      created_at: NOW,
      updated_at: NOW,
      rate_slot_at: null,
    }));
  });
  await store.transaction(async ({ tx }) => {
    await insertRecords(tx, "messages", messages);
    await insertRecords(tx, "deliveries", deliveries);
  });
}

const dueTimes = async (store: Store, ids: readonly DeliveryId[]) => {
  const rows = await readTable(store, "deliveries", "id");
  return ids.map((id) => rows.find((row) => row.id === id)!.next_attempt_at);
};

test("releaseForSlots makes as many of a slow consumer's deliveries parked for a slot due as slots were freed, oldest first, or all; never what a line or a circuit holds", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const slow = await seedConsumer(store, clientId);
  const fast = await seedConsumer(store, clientId);
  const fifo = await seedConsumer(store, clientId, { ordering: "fifo" });
  const open = await seedConsumer(store, clientId, { circuitOpenUntil: NOW + 5000 });
  const slowParked = await seedDeliveries(store, clientId, slow, ["slot", "slot", "slot", "slot"]);
  const slowRetry = await seedDeliveries(store, clientId, slow, [NOW + 30_000]);
  const fastParked = await seedDeliveries(store, clientId, fast, ["slot", "circuit", "slot"]);
  const fifoParked = await seedDeliveries(store, clientId, fifo, ["line"]);
  const openParked = await seedDeliveries(store, clientId, open, ["circuit", "slot"]);

  const freed = new Map<ConsumerId, number | null>([
    [slow, 2],
    [fast, null],
    [fifo, null],
    [open, null],
  ]);
  await store.transaction((uow) => releaseForSlots(uow, freed, NOW));
  assert.deepEqual(await dueTimes(store, slowParked), [NOW, NOW, PARKED_AT, PARKED_AT], "two slots freed: the two oldest fall due");
  assert.deepEqual(await dueTimes(store, slowRetry), [NOW + 30_000], "a scheduled retry is not hastened");
  assert.deepEqual(await dueTimes(store, fastParked), [NOW, PARKED_AT, NOW], "a consumer slow no longer: what waited for a slot falls due, and only that");
  assert.deepEqual(await dueTimes(store, fifoParked), [PARKED_AT], "a fifo line moves only when its head ends");
  assert.deepEqual(
    await dueTimes(store, openParked),
    [PARKED_AT, NOW],
    "what the open circuit holds waits for a probe; what waited for a slot is claimed, and held by the circuit then",
  );
});

test("releaseStrandedSlots releases what waits for slots of consumers with nothing in flight, and what closed circuits still hold; nothing of one whose attempts are still leased", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const stranded = await seedConsumer(store, clientId);
  const busy = await seedConsumer(store, clientId);
  const fifo = await seedConsumer(store, clientId, { ordering: "fifo" });
  const listening = await seedConsumer(store, clientId, { listen: true });
  const open = await seedConsumer(store, clientId, { circuitOpenUntil: NOW + 5000 });
  const strandedParked = await seedDeliveries(store, clientId, stranded, ["slot", "slot", "circuit"]);
  const streamed = await seedDeliveries(store, clientId, listening, ["listen"]);
  await seedDeliveries(store, clientId, busy, [NOW + LEASE_MS / 2], true);
  const busyParked = await seedDeliveries(store, clientId, busy, ["slot"]);
  const fifoParked = await seedDeliveries(store, clientId, fifo, ["line"]);
  const openParked = await seedDeliveries(store, clientId, open, ["circuit"]);

  assert.equal(await store.writeStatement((db) => releaseStrandedSlots(db, NOW, LEASE_MS)), 3);
  assert.deepEqual(await dueTimes(store, strandedParked), [NOW, NOW, NOW], "its circuit closed: what it still held goes too");
  assert.deepEqual(await dueTimes(store, busyParked), [PARKED_AT], "its attempt in flight frees the slot when it ends");
  assert.deepEqual(await dueTimes(store, fifoParked), [PARKED_AT]);
  assert.deepEqual(await dueTimes(store, streamed), [PARKED_AT], "a listening CLI's stream takes them, never a worker");
  assert.deepEqual(await dueTimes(store, openParked), [PARKED_AT]);
});

test("releaseParked in steps releases at most a step of what a closed circuit held, oldest first, says whether more may remain, and nothing once the circuit opened again", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const closed = await seedConsumer(store, clientId, { ordering: "fifo" });
  const reopened = await seedConsumer(store, clientId, { circuitOpenUntil: NOW + 5000 });
  const held = await seedDeliveries(store, clientId, closed, ["circuit", "line", "circuit", "circuit"]);
  const heldAgain = await seedDeliveries(store, clientId, reopened, ["circuit"]);
  const circuits = [closed, reopened].map((consumerId) => ({ consumerId, openUntil: NOW }));

  assert.deepEqual(await store.transaction((uow) => releaseParked(uow, circuits, NOW, 2)), [closed], "a full step: more may remain");
  assert.deepEqual(await dueTimes(store, held), [NOW, PARKED_AT, NOW, PARKED_AT]);
  assert.deepEqual(await store.transaction((uow) => releaseParked(uow, circuits, NOW, 2)), [], "the last of them");
  assert.deepEqual(await dueTimes(store, held), [NOW, PARKED_AT, NOW, NOW], "what waits in line waits for its line's head");
  assert.deepEqual(await dueTimes(store, heldAgain), [PARKED_AT], "a circuit open again keeps what it holds");
});

test("releaseInSteps, and relineConsumer turning ordering off, release only their own, a step per transaction, until none is left", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const consumer = await seedConsumer(store, clientId, { ordering: "fifo" });
  const circuitHeld = await seedDeliveries(
    store,
    clientId,
    consumer,
    Array.from({ length: 5 }, () => "circuit" as const),
  );
  const inLine = await seedDeliveries(
    store,
    clientId,
    consumer,
    Array.from({ length: 5 }, () => "line" as const),
  );
  const forSlots = await seedDeliveries(store, clientId, consumer, ["slot"]);

  const steps: number[] = [];
  let more = true;
  while (more) {
    more = await store.transaction((uow) => relineConsumer(uow, consumer, "unordered", NOW, 2));
    steps.push((await dueTimes(store, inLine)).filter((due) => due === NOW).length);
  }
  assert.deepEqual(steps, [2, 4, 5], "two per step, oldest first");
  assert.deepEqual(
    await dueTimes(store, circuitHeld),
    circuitHeld.map(() => PARKED_AT),
    "what the circuit holds stays",
  );

  await releaseInSteps(store, consumer, () => NOW);
  assert.deepEqual(
    await dueTimes(store, circuitHeld),
    circuitHeld.map(() => NOW),
  );
  assert.deepEqual(await dueTimes(store, forSlots), [PARKED_AT], "what waits for a slot stays");
});

test("a closed circuit's release in steps sends what it held beyond the first step, the new events made due at its cool-down's end among them", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const consumer = await seedConsumer(store, clientId);
  const openUntil = NOW + 3_600_000;
  // More parked than one step holds, then the newest: events published while the circuit was open, due at its end.
  await seedMany(store, clientId, [consumer], RELEASE_STEP + 10, () => ({ next_attempt_at: PARKED_AT, parked_reason: "circuit" }));
  await seedMany(store, clientId, [consumer], 5, () => ({ next_attempt_at: openUntil }));

  await releaseInSteps(store, consumer, () => NOW, openUntil);
  const rows = await readTable(store, "deliveries", "id");
  assert.equal(rows.length, RELEASE_STEP + 15);
  assert.deepEqual(
    rows.filter((row) => row.next_attempt_at !== NOW),
    [],
    "every held delivery is due now",
  );
});

test("advanceLines lets the next of a company's line go when its head ends, and no other line's; an open circuit holds it instead", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const acme = (await seedCompany(store, clientId, { name: "Acme" })).id;
  const brio = (await seedCompany(store, clientId, { name: "Brio" })).id;
  const byCompany = await seedConsumer(store, clientId, { ordering: "fifo-by-company" });
  const acmeLine = await seedDeliveries(store, clientId, byCompany, [NOW + 1000, "line", "line"], false, acme);
  const brioLine = await seedDeliveries(store, clientId, byCompany, [NOW + 1000, "line"], false, brio);
  const companyless = await seedDeliveries(store, clientId, byCompany, [NOW + 1000, "line"]);
  const open = await seedConsumer(store, clientId, { ordering: "fifo-by-company", circuitOpenUntil: NOW + 5000 });
  const openLine = await seedDeliveries(store, clientId, open, [NOW + 1000, "line"], false, acme);
  const final = (ids: DeliveryId[]) =>
    store.writeStatement((db) => db.updateTable("deliveries").set({ next_attempt_at: null, status: "Success" }).where("id", "in", ids).execute());
  await final([acmeLine[0]!, openLine[0]!]);

  await store.transaction((uow) =>
    advanceLines(
      uow,
      [byCompany, open],
      [
        { consumerId: byCompany, company: acme },
        { consumerId: open, company: acme },
      ],
      NOW,
    ),
  );
  assert.deepEqual(await dueTimes(store, acmeLine), [null, NOW, PARKED_AT], "the next of Acme's line, and only it");
  assert.deepEqual(await dueTimes(store, brioLine), [NOW + 1000, PARKED_AT], "Brio's head has not ended: its line waits");
  assert.deepEqual(await dueTimes(store, companyless), [NOW + 1000, PARKED_AT]);
  assert.deepEqual(await dueTimes(store, openLine), [null, PARKED_AT]);
  const reasons = await readTable(store, "deliveries", "id");
  assert.equal(reasons.find((row) => row.id === openLine[1])!.parked_reason, "circuit", "it waits for the circuit now, which releases it when it closes");

  await final([companyless[0]!]);
  await store.transaction((uow) => advanceLines(uow, [byCompany], [{ consumerId: byCompany, company: null }], NOW));
  assert.deepEqual(await dueTimes(store, companyless), [null, NOW], "events without a company have a line of their own");
  assert.deepEqual(await dueTimes(store, brioLine), [NOW + 1000, PARKED_AT]);
});

test("relineConsumer puts a consumer's pending deliveries in the lines of its new ordering: what is behind another waits, what heads a line goes, what is in flight stays", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const acmeId = (await seedCompany(store, clientId, { name: "Acme" })).id;
  const brioId = (await seedCompany(store, clientId, { name: "Brio" })).id;
  const consumer = await seedConsumer(store, clientId);
  const acme = await seedDeliveries(store, clientId, consumer, [NOW, NOW + 30_000, "circuit"], false, acmeId);
  const brio = await seedDeliveries(store, clientId, consumer, [NOW, NOW], false, brioId);
  const none = await seedDeliveries(store, clientId, consumer, [NOW]);
  const inFlight = await seedDeliveries(store, clientId, consumer, [NOW + 60_000], true, acmeId);
  const reline = async (ordering: ConsumerOrdering, now: number) => {
    // Steps of two: it says whether more may remain until none does.
    while (await store.transaction((uow) => relineConsumer(uow, consumer, ordering, now, 2)));
  };
  const all = async () => ({
    acme: await dueTimes(store, acme),
    brio: await dueTimes(store, brio),
    none: await dueTimes(store, none),
    inFlight: await dueTimes(store, inFlight),
  });

  await reline("fifo-by-company", NOW);
  assert.deepEqual(
    await all(),
    { acme: [NOW, PARKED_AT, PARKED_AT], brio: [NOW, PARKED_AT], none: [NOW], inFlight: [NOW + 60_000] },
    "one due per company line",
  );
  await reline("fifo", NOW);
  assert.deepEqual(
    await all(),
    { acme: [NOW, PARKED_AT, PARKED_AT], brio: [PARKED_AT, PARKED_AT], none: [PARKED_AT], inFlight: [NOW + 60_000] },
    "one line: only its oldest is due",
  );
  await reline("fifo-by-company", NOW + 1000);
  assert.deepEqual(
    await all(),
    { acme: [NOW, PARKED_AT, PARKED_AT], brio: [NOW + 1000, PARKED_AT], none: [NOW + 1000], inFlight: [NOW + 60_000] },
    "each company's head goes again",
  );
  await reline("unordered", NOW + 2000);
  assert.deepEqual(
    await all(),
    { acme: [NOW, NOW + 2000, NOW + 2000], brio: [NOW + 1000, NOW + 2000], none: [NOW + 1000], inFlight: [NOW + 60_000] },
    "everything that waited goes",
  );
});

test("migration 027 puts in line what was due behind an ordered consumer's line head, and leaves heads, unordered consumers and what already waited", async (t) => {
  const database = await createTestDatabase();
  const store = await Store.open(database.url);
  t.after(async () => {
    await store.close();
    await database.drop();
  });
  const { error } = await migratorOf(store.db).migrateTo("025_parked_reasons_and_company_lines");
  assert.equal(error, undefined);
  const clientId = await seedClient(store);
  const acmeId = (await seedCompany(store, clientId, { name: "Acme" })).id;
  const fifo = await seedConsumer(store, clientId, { ordering: "fifo" });
  const byCompany = await seedConsumer(store, clientId, { ordering: "fifo-by-company" });
  const unordered = await seedConsumer(store, clientId);
  const line = await seedDeliveries(store, clientId, fifo, [NOW, NOW, "line", NOW + 30_000]);
  const acme = await seedDeliveries(store, clientId, byCompany, [NOW, NOW], false, acmeId);
  const none = await seedDeliveries(store, clientId, byCompany, [NOW, "circuit"]);
  const free = await seedDeliveries(store, clientId, unordered, [NOW, NOW]);

  await store.migrate();
  assert.deepEqual(await dueTimes(store, line), [NOW, PARKED_AT, PARKED_AT, PARKED_AT]);
  assert.deepEqual(await dueTimes(store, acme), [NOW, PARKED_AT]);
  assert.deepEqual(await dueTimes(store, none), [NOW, PARKED_AT]);
  assert.deepEqual(await dueTimes(store, free), [NOW, NOW]);
  const reasons = new Map((await readTable(store, "deliveries", "id")).map((row) => [row.id, row.parked_reason]));
  assert.deepEqual(
    [...line, ...acme, ...none].map((id) => reasons.get(id)),
    [null, "line", "line", "line", null, "line", null, "line"],
  );
});

test("a fifo line's head and a circuit's held deliveries are read through their indexes, oldest first, also behind a long history with a large backlog", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const consumers = [await seedConsumer(store, clientId, { ordering: "fifo" }), await seedConsumer(store, clientId), await seedConsumer(store, clientId)];
  // 20,000 events to the three consumers, the first 14,000 delivered, the rest pending: PostgreSQL, given the
  // consumer as a constant, walked the primary key through the 42,000 final deliveries to the first pending one.
  for (let first = 0; first < 20_000; first += 2_000)
    await seedMany(store, clientId, consumers, 2_000, (index) => (first + index < 14_000 ? { next_attempt_at: null } : { next_attempt_at: NOW }));
  await sql`ANALYZE`.execute(store.db);
  const query = lineHead(store.db, { consumerId: consumers[0]! }).compile();
  const explain = testDialect === "postgres" ? "EXPLAIN " : "EXPLAIN QUERY PLAN ";
  const plan = await store.db.executeQuery(CompiledQuery.raw(explain + query.sql, [...query.parameters]));
  assert.match(JSON.stringify(plan.rows), /deliveries_pending_by_consumer/, JSON.stringify(plan.rows));
  const head = await lineHead(store.db, { consumerId: consumers[0]! }).executeTakeFirstOrThrow();
  const oldestPending = await store.db
    .selectFrom("deliveries")
    .select("id")
    .where("consumer_id", "=", consumers[0]!)
    .where("next_attempt_at", "is not", null)
    .orderBy("id")
    .limit(1)
    .executeTakeFirstOrThrow();
  assert.equal(head.id, oldestPending.id, "the head is the consumer's oldest pending delivery");

  // The same backlog held by the consumer's open circuit: a release step reads its oldest through deliveries_parked.
  await store.db.updateTable("deliveries").set({ next_attempt_at: PARKED_AT, parked_reason: "circuit" }).where("next_attempt_at", "is not", null).execute();
  await sql`ANALYZE`.execute(store.db);
  const step = oneConsumerOldestFirst(store.db.selectFrom("deliveries").select("id").where("parked_reason", "=", "circuit"), consumers[0]!)
    .limit(RELEASE_STEP)
    .compile();
  const stepPlan = await store.db.executeQuery(CompiledQuery.raw(explain + step.sql, [...step.parameters]));
  assert.match(JSON.stringify(stepPlan.rows), /deliveries_parked/, JSON.stringify(stepPlan.rows));
});
