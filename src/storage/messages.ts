import { sql, type ExpressionBuilder } from "kysely";
import { asId, type ClientId, type CompanyId, type ConsumerId, type MessageId } from "../ids.ts";
import type { Db, Store, Tx, UnitOfWork } from "./database.ts";
import { createDeliveries, deliveryRows, type NewDelivery } from "./deliveries/create.ts";
import { dialectOf } from "./dialect/index.ts";
import { insertRecords, jsonRecords } from "./json-records.ts";
import type { Database, DeliveryStatus, MessagesTable } from "./schema.ts";

/** Where a page of a newest-first (or oldest-first) listing ends: the (created_at, id) of its last row. */
export interface ListPosition {
  at: number;
  id: string;
}

export type NewMessage = Omit<MessagesTable, "payload_purged_at">;

/** New messages and their deliveries: what recording events writes. */
export interface MessagesWithDeliveries {
  messages: NewMessage[];
  deliveries: NewDelivery[];
  /** Whether some deliveries go to an ordered consumer: creating them locks its lines (createDeliveries). */
  toOrderedConsumers: boolean;
}

/** Stores new messages and their deliveries in the unit of work; workers are woken once it commits, when there are deliveries. */
export async function insertMessagesWithDeliveries(uow: UnitOfWork, { messages, deliveries }: MessagesWithDeliveries): Promise<void> {
  await insertRecords(uow.tx, "messages", messages);
  await createDeliveries(uow.tx, deliveries);
  if (deliveries.length > 0) uow.wakeWorkers();
}

/**
 * Runs `plan`, which only reads, then stores the messages and deliveries it
 * decided on, all or none, and answers its value (Store.insertAfterReads).
 * Deliveries to an ordered consumer are put in line under its lock, which
 * takes a transaction of their own (createDeliveries): those are written in
 * one after the reads, not in a shared insert statement.
 */
export async function insertMessagesAfterReads<T>(store: Store, plan: (db: Db) => Promise<{ write: MessagesWithDeliveries; value: T }>): Promise<T> {
  let inLine: MessagesWithDeliveries | undefined;
  const value = await store.insertAfterReads(async (db) => {
    const { write, value } = await plan(db);
    if (write.toOrderedConsumers) {
      inLine = write;
      return { inserts: [], wake: false, value };
    }
    const inserts = [
      { table: "messages" as const, rows: write.messages },
      { table: "deliveries" as const, rows: deliveryRows(write.deliveries) },
    ];
    return { inserts, wake: write.deliveries.length > 0, value };
  });
  if (inLine !== undefined) {
    const write = inLine;
    await store.transaction((uow) => insertMessagesWithDeliveries(uow, write));
  }
  return value;
}

/**
 * Reads a client's messages inside a transaction that is about to schedule
 * deliveries of them, and on PostgreSQL locks them (in id order, so two such
 * transactions never deadlock) until it ends. The retention job locks the
 * messages it purges too, so a message is either purged or redelivered, never
 * purged under a delivery that needs its body. SQLite's write transaction
 * already excludes the two.
 */
export async function lockMessages(tx: Tx, clientId: ClientId, messageIds: readonly MessageId[]) {
  if (messageIds.length === 0) return [];
  let query = tx
    .selectFrom("messages")
    .select(["id", "company_id", "payload_purged_at"])
    .where("client_id", "=", clientId)
    .where("id", "in", messageIds)
    .orderBy("id");
  query = dialectOf(tx).lockRows(query);
  return query.execute();
}

/** The bodies of these messages, by id. */
export async function readBodies(db: Db, messageIds: readonly MessageId[]): Promise<Map<MessageId, string>> {
  if (messageIds.length === 0) return new Map();
  const wanted = messageIds.map((id) => ({ id }));
  const rows = await db
    .selectFrom("messages")
    .select(["id", "body"])
    .where(sql<boolean>`id IN (SELECT id FROM ${jsonRecords(db, "messages", wanted, "wanted", ["id"])})`)
    .execute();
  return new Map(rows.map((row) => [row.id, row.body]));
}

/** One of the client's messages, whole, if it has it. */
export function findMessage(db: Db, clientId: ClientId, messageId: MessageId) {
  return db.selectFrom("messages").selectAll().where("client_id", "=", clientId).where("id", "=", messageId).executeTakeFirst();
}

export interface MessageLogFilter {
  eventTypes?: readonly string[] | undefined;
  companyId?: CompanyId | undefined;
  since?: number | undefined;
  until?: number | undefined;
  /** Only messages delivered (or being delivered) to this consumer. */
  consumerId?: ConsumerId | undefined;
  /** Only messages with a delivery in this status (to `consumerId`, when given). */
  status?: DeliveryStatus | undefined;
}

/** Up to `limit` of the client's messages that pass the filter, newest first, after `after`. */
export function readMessagePage(db: Db, clientId: ClientId, filter: MessageLogFilter, after: ListPosition | undefined, limit: number) {
  let query = db
    .selectFrom("messages")
    .select(["id", "event_type", "company_id", "created_at", "example", "payload_purged_at"])
    .where("client_id", "=", clientId);
  if (filter.eventTypes && filter.eventTypes.length > 0) query = query.where("event_type", "in", filter.eventTypes);
  if (filter.companyId !== undefined) query = query.where("company_id", "=", filter.companyId);
  if (filter.since !== undefined) query = query.where("created_at", ">=", filter.since);
  if (filter.until !== undefined) query = query.where("created_at", "<", filter.until);
  const { consumerId, status } = filter;
  if (consumerId !== undefined || status !== undefined) {
    query = query.where((eb) => eb.exists(deliveriesOf(eb, consumerId, status === undefined ? undefined : [status])));
  }
  if (after) query = query.where((eb) => eb(eb.refTuple("created_at", "id"), "<", eb.tuple(after.at, asId<MessageId>(after.id))));
  return query.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
}

export type MessageLogRow = Awaited<ReturnType<typeof readMessagePage>>[number];

/** The deliveries of the message a query on `messages` is at, to one consumer and in some statuses when given: for EXISTS filters. */
export function deliveriesOf(eb: ExpressionBuilder<Database, "messages">, consumerId: ConsumerId | undefined, statuses: readonly DeliveryStatus[] | undefined) {
  let deliveries = eb.selectFrom("deliveries").select("deliveries.id").whereRef("deliveries.message_id", "=", "messages.id");
  if (consumerId !== undefined) deliveries = deliveries.where("deliveries.consumer_id", "=", consumerId);
  if (statuses !== undefined) deliveries = deliveries.where("deliveries.status", "in", statuses);
  return deliveries;
}

/** A range of creation times: from `since`, up to `until` (excluded) when given. */
export interface CreatedRange {
  since: number;
  until?: number | undefined;
}

/** Up to `limit` of the client's messages in the range, oldest first (so they go out in order), after `after`. */
function messagesInRange(db: Db, clientId: ClientId, range: CreatedRange, after: ListPosition | undefined, limit: number) {
  let query = db
    .selectFrom("messages")
    .select(["id", "event_type", "company_id", "created_at"])
    .where("client_id", "=", clientId)
    .where("created_at", ">=", range.since);
  if (range.until !== undefined) query = query.where("created_at", "<", range.until);
  if (after) query = query.where((eb) => eb(eb.refTuple("created_at", "id"), ">", eb.tuple(after.at, asId<MessageId>(after.id))));
  return query.orderBy("created_at").orderBy("id").limit(limit);
}

/** Messages of the range whose delivery to the consumer ended in Failure: what a recovery restarts. */
export function readFailedMessagesInRange(
  db: Db,
  clientId: ClientId,
  consumerId: ConsumerId,
  range: CreatedRange,
  after: ListPosition | undefined,
  limit: number,
) {
  return messagesInRange(db, clientId, range, after, limit)
    .where((eb) => eb.exists(deliveriesOf(eb, consumerId, ["Failure"])))
    .execute();
}

/** Messages of the range, examples aside (each was made for one consumer), that have no delivery to the consumer: what a replay may send. */
export function readUndeliveredMessagesInRange(
  db: Db,
  clientId: ClientId,
  consumerId: ConsumerId,
  range: CreatedRange,
  after: ListPosition | undefined,
  limit: number,
) {
  return messagesInRange(db, clientId, range, after, limit)
    .where("example", "=", 0)
    .where((eb) => eb.not(eb.exists(deliveriesOf(eb, consumerId, undefined))))
    .execute();
}
