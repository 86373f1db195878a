import type { Insertable, Selectable, Updateable } from "kysely";
import type { ClientId, ConsumerId } from "../ids.ts";
import { decodeSubscription } from "./consumers-codec.ts";
import type { Db, Tx } from "./database.ts";
import { dialectOf } from "./dialect/index.ts";
import type { ConsumersTable } from "./schema.ts";

export type ConsumerRow = Selectable<ConsumersTable>;
/** The columns a change to a consumer may set: its ids and creation time never change. */
export type ConsumerChanges = Omit<Updateable<ConsumersTable>, "id" | "client_id" | "created_at">;

const consumerOf = (db: Db, clientId: ClientId, consumerId: ConsumerId) =>
  db.selectFrom("consumers").selectAll().where("client_id", "=", clientId).where("id", "=", consumerId);

/** The client's consumer; undefined also for another client's ids. */
export function findConsumer(db: Db, clientId: ClientId, consumerId: ConsumerId): Promise<ConsumerRow | undefined> {
  return consumerOf(db, clientId, consumerId).executeTakeFirst();
}

/** findConsumer with the row locked until the transaction ends, so that concurrent changes apply one after the other. */
export function lockConsumer(tx: Tx, clientId: ClientId, consumerId: ConsumerId): Promise<ConsumerRow | undefined> {
  return dialectOf(tx)
    .lockRows(consumerOf(tx, clientId, consumerId))
    .executeTakeFirst();
}

/** The client's consumer's custom headers as stored (sealed), or undefined when the client has no such consumer. */
export function findCustomHeaders(db: Db, clientId: ClientId, consumerId: ConsumerId): Promise<Pick<ConsumerRow, "custom_headers"> | undefined> {
  return db.selectFrom("consumers").select("custom_headers").where("client_id", "=", clientId).where("id", "=", consumerId).executeTakeFirst();
}

/** The client's consumers, oldest first. */
export function listConsumersOf(db: Db, clientId: ClientId): Promise<ConsumerRow[]> {
  return db.selectFrom("consumers").selectAll().where("client_id", "=", clientId).orderBy("created_at").orderBy("id").execute();
}

/**
 * How many consumers the client has, counted after locking the client's row
 * (PostgreSQL; SQLite has one writer): concurrent creations wait for each
 * other, so together they cannot pass the per-client limit.
 */
export async function countConsumersLockingClient(tx: Tx, clientId: ClientId): Promise<number> {
  await dialectOf(tx)
    .lockRows(tx.selectFrom("clients").select("id").where("id", "=", clientId))
    .execute();
  const { count } = await tx
    .selectFrom("consumers")
    .select((eb) => eb.fn.countAll().as("count"))
    .where("client_id", "=", clientId)
    .executeTakeFirstOrThrow();
  return Number(count);
}

export async function insertConsumer(tx: Tx, row: Insertable<ConsumersTable>): Promise<void> {
  await tx.insertInto("consumers").values(row).execute();
}

/** Sets the columns `changes` holds; none is no statement (an empty SET is not SQL). */
export async function updateConsumerColumns(tx: Tx, clientId: ClientId, consumerId: ConsumerId, changes: ConsumerChanges): Promise<void> {
  if (Object.keys(changes).length === 0) return;
  await tx.updateTable("consumers").set(changes).where("client_id", "=", clientId).where("id", "=", consumerId).execute();
}

/** Deletes the consumer row only: its deliveries go first (deliveries/on-consumer-change.ts). */
export async function deleteConsumerRow(tx: Tx, clientId: ClientId, consumerId: ConsumerId): Promise<void> {
  await tx.deleteFrom("consumers").where("client_id", "=", clientId).where("id", "=", consumerId).execute();
}

/** What an enabled consumer subscribes to, for matching events to it. */
export interface Subscriber {
  id: ConsumerId;
  eventTypes: string[];
  /** Null for every company. */
  companyTags: string[] | null;
  /** While its circuit is open: when its cool-down ends; null while closed. */
  circuitOpenUntil: number | null;
  /** Its URL: a `listen:` one for a consumer whose deliveries go over a CLI's stream (domain/listen.ts). */
  url: string;
  /** Whether its deliveries go in lines (`fifo`, `fifo-by-company`), which creating them must lock. */
  ordered: boolean;
}

/** The client's enabled consumers with their subscriptions; with `onlyConsumerId`, that one consumer (when enabled). */
export async function listSubscribers(db: Db, clientId: ClientId, onlyConsumerId?: ConsumerId): Promise<Subscriber[]> {
  let query = db
    .selectFrom("consumers")
    .select(["id", "event_types", "company_tags", "circuit_open_until", "url", "ordering"])
    .where("client_id", "=", clientId)
    .where("disabled", "=", 0);
  if (onlyConsumerId !== undefined) query = query.where("id", "=", onlyConsumerId);
  return (await query.execute()).map((row) => ({
    id: row.id,
    ...decodeSubscription(row),
    circuitOpenUntil: row.circuit_open_until,
    url: row.url,
    ordered: row.ordering !== "unordered",
  }));
}

/** The code of these consumers' enabled transformations, with its version. */
export function readTransformations(db: Db, consumerIds: readonly ConsumerId[]): Promise<Array<{ consumerId: ConsumerId; version: number; code: string }>> {
  return db
    .selectFrom("consumers")
    .select(["id as consumerId", "transformation_version as version", "transformation_code as code"])
    .where("id", "in", consumerIds)
    .where("transformation_enabled", "=", 1)
    .where("transformation_code", "is not", null)
    .$narrowType<{ code: string }>()
    .execute();
}

/** `stream` opens at `now` and becomes the listen consumer's stream: the one that takes its deliveries (deliveries/listen.ts). */
export async function takeListenStream(db: Db, consumerId: ConsumerId, stream: string, now: number): Promise<void> {
  await db
    .updateTable("consumers")
    .set({ listen_stream: stream, listen_seen_at: now })
    .where("id", "=", consumerId)
    .where("listen_seen_at", "is not", null)
    .execute();
}

/**
 * The listen consumer's stream is still open (or just ended) at `now`: the
 * sweep leaves the consumer for another HOOKLINE_LISTEN_GRACE. Returns false
 * when `stream` is no longer the consumer's (a newer one took over, or the consumer is gone).
 */
export async function markListenStream(db: Db, consumerId: ConsumerId, stream: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable("consumers")
    .set({ listen_seen_at: now })
    .where("id", "=", consumerId)
    .where("listen_stream", "=", stream)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** The listen consumers no stream has held since `before`: their CLIs are gone. */
export function findListenConsumersUnseenSince(db: Db, before: number): Promise<Array<{ clientId: ClientId; consumerId: ConsumerId }>> {
  return db.selectFrom("consumers").select(["client_id as clientId", "id as consumerId"]).where("listen_seen_at", "<", before).execute();
}

/** The consumer that replaces a legacy consumer (made by its migration's expand step). */
export function findReplacementOf(db: Db, clientId: ClientId, legacyId: ConsumerId): Promise<ConsumerRow | undefined> {
  return db.selectFrom("consumers").selectAll().where("client_id", "=", clientId).where("replaces_id", "=", legacyId).executeTakeFirst();
}

/** The client's replacements of these legacy consumers (made by their migrations' expand step). */
export function listReplacementsOf(db: Db, clientId: ClientId): Promise<ConsumerRow[]> {
  return db.selectFrom("consumers").selectAll().where("client_id", "=", clientId).where("replaces_id", "is not", null).execute();
}
