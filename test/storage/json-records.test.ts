/** Bulk inserts that pass their rows as one JSON parameter (json-records.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { asId, newId, type AttemptId, type CompanyId, type ConsumerId, type DeliveryId, type MessageId } from "../../src/ids.ts";
import { insertRecords } from "../../src/storage/json-records.ts";
import type { AttemptsTable, MessagesTable } from "../../src/storage/schema.ts";
import { openTestStore, readTable, seedClient } from "../support/storage.ts";

/** Text that a careless encoding would change: quotes, escapes, JSON look-alikes, characters beyond the BMP, combining marks. */
const awkwardTexts = [
  "",
  " leading and trailing ",
  "quote ' double \" backslash \\ slash /",
  "line\nbreak\ttab\r\n",
  "null",
  "true",
  "0012",
  "1e3",
  '{"a":[1,2]}',
  "[1, 2]",
  "Zürich · 東京 · Москва · عربى",
  "emoji 🚀👩‍💻 and 𝄞",
  "combining e\u0301 vs é",
  "\u2028\u2029 separators",
  "%_ like wildcards",
];

test("every row of a large batch is written, with its values as given", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const rows: MessagesTable[] = Array.from({ length: 5_000 }, (_, index) => ({
    id: asId<MessageId>(`message-${String(index).padStart(5, "0")}`),
    client_id: clientId,
    event_type: index % 2 ? "company.created" : "connection.linked",
    company_id: index % 3 ? asId<CompanyId>(`company-${index}`) : null,
    body: awkwardTexts[index % awkwardTexts.length]!,
    // Epoch milliseconds are beyond 32 bits.
    created_at: 1_700_000_000_000 + index,
    payload_purged_at: index % 5 ? null : 1_800_000_000_000 + index,
    example: index % 7 ? 0 : 1,
    source_message_id: index % 4 ? null : asId<MessageId>(`message-source-${index}`),
  }));
  await store.transaction(({ tx }) => insertRecords(tx, "messages", rows));
  assert.deepEqual(await readTable(store, "messages", "id"), rows);
});

test("nulls, zeros and empty text stay distinct", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const attempt = (id: string, fields: Partial<AttemptsTable>): AttemptsTable => ({
    id: asId<AttemptId>(id),
    client_id: clientId,
    delivery_id: asId<DeliveryId>("delivery"),
    message_id: asId<MessageId>("message"),
    consumer_id: asId<ConsumerId>("consumer"),
    attempt_number: 1,
    started_at: 1_700_000_000_000,
    duration_ms: 0,
    status_code: null,
    response_excerpt: null,
    error: null,
    succeeded: 0,
    ...fields,
  });
  const rows = [
    attempt("a-nulls", {}),
    attempt("b-zero-and-empty", { status_code: 0, response_excerpt: "", error: "" }),
    attempt("c-values", { status_code: 200, response_excerpt: "OK ✓", error: "null", succeeded: 1, duration_ms: 2_147_483_647, attempt_number: 12 }),
  ];
  await store.transaction(({ tx }) => insertRecords(tx, "attempts", rows));
  assert.deepEqual(await readTable(store, "attempts", "id"), rows);
});

test("a batch is written in the caller's transaction, and undone with it", async (t) => {
  const { store, openAnother } = await openTestStore(t);
  // Another process's view: a SQLite Store's own handle waits for its transaction to end.
  const outside = await openAnother();
  const clientId = await seedClient(store);
  const rows = [1, 2, 3].map((index) => ({
    id: newId<MessageId>(),
    client_id: clientId,
    event_type: "company.created",
    company_id: null,
    body: "{}",
    created_at: index,
    payload_purged_at: null,
    example: 0,
  }));
  await assert.rejects(
    store.transaction(async ({ tx }) => {
      await insertRecords(tx, "messages", rows);
      assert.equal((await readTable(outside, "messages", "id")).length, 0, "not visible outside the transaction before it commits");
      throw new Error("rollback");
    }),
  );
  assert.deepEqual(await readTable(store, "messages", "id"), []);
});

test("a batch with a row that breaks a constraint is written not at all", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const row = (id: string) => ({
    id: asId<MessageId>(id),
    client_id: clientId,
    event_type: "e",
    company_id: null,
    body: "{}",
    created_at: 1,
    payload_purged_at: null,
    example: 0,
  });
  await assert.rejects(store.writeStatement((db) => insertRecords(db, "messages", [row("one"), row("two"), row("one")])));
  assert.deepEqual(await readTable(store, "messages", "id"), []);
});

test("an empty batch writes nothing", async (t) => {
  const { store } = await openTestStore(t);
  await insertRecords(store.db, "clients", []);
  assert.deepEqual(await readTable(store, "clients", "id"), []);
});
