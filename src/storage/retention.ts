import { PENDING_DELIVERY_STATUSES } from "../constants/statuses.ts";
import type { MessageId } from "../ids.ts";
import type { Store } from "./database.ts";
import { dialectOf, type Tx } from "./dialect/index.ts";
import { deliveriesOf } from "./messages.ts";

/**
 * Claims at most `limit` messages created before `cutoff`, oldest first, that
 * have no delivery pending, and holds them to the end of the transaction.
 * Returns how many it looked at and the ids of those with no delivery pending
 * now. `narrow` adds conditions to the messages it looks at.
 */
async function claimFinalMessages(
  tx: Tx,
  cutoff: number,
  limit: number,
  narrow: (query: ReturnType<typeof expiredMessages>) => ReturnType<typeof expiredMessages> = (query) => query,
): Promise<{ selected: number; ids: MessageId[] }> {
  const expired = narrow(expiredMessages(tx, cutoff)).orderBy("created_at").limit(limit);
  // Messages a redelivery holds (lockMessages) are left for the next run; other workers' runs take other rows.
  const ids = (await dialectOf(tx).claimRows(expired).execute()).map((row) => row.id);
  if (ids.length === 0) return { selected: 0, ids };
  // A redelivery that committed after the statement above started is seen by this one (each PostgreSQL statement reads the latest commits).
  const pending = await tx
    .selectFrom("deliveries")
    .select("message_id")
    .where("message_id", "in", ids)
    .where("status", "in", PENDING_DELIVERY_STATUSES)
    .execute();
  const stillPending = new Set(pending.map((row) => row.message_id));
  return { selected: ids.length, ids: ids.filter((id) => !stillPending.has(id)) };
}

/** Messages created before `cutoff` none of whose deliveries is pending: the worker sends the body at every attempt. */
const expiredMessages = (tx: Tx, cutoff: number) =>
  tx
    .selectFrom("messages")
    .select("id")
    .where("created_at", "<", cutoff)
    .where((eb) => eb.not(eb.exists(deliveriesOf(eb, undefined, PENDING_DELIVERY_STATUSES))));

/**
 * Empties the bodies of at most `limit` messages created before `cutoff`,
 * oldest first, and marks them purged at `now`, leaving those with a delivery
 * still pending. Returns how many messages it looked at and how many it emptied.
 */
export async function purgeExpiredPayloadChunk(tx: Tx, cutoff: number, now: number, limit: number): Promise<{ selected: number; emptied: number }> {
  // The condition on payload_purged_at matches the partial index of messages whose body is held.
  const { selected, ids } = await claimFinalMessages(tx, cutoff, limit, (query) => query.where("payload_purged_at", "is", null));
  if (ids.length > 0) await tx.updateTable("messages").set({ body: "", payload_purged_at: now }).where("id", "in", ids).execute();
  return { selected, emptied: ids.length };
}

/** What one chunk of message deletion removed. */
export interface DeletedMessages {
  /** Messages the chunk looked at: fewer than its limit when no more have expired. */
  selected: number;
  messages: number;
  deliveries: number;
  attempts: number;
}

/**
 * Deletes at most `limit` messages created before `cutoff`, oldest first,
 * with every row that hangs off them: their attempts, their deliveries and
 * those deliveries' restarts. A message with a delivery still pending stays,
 * and so does one a redelivery holds (PostgreSQL); the messages deleted are
 * held until the transaction ends, so no redelivery schedules one of them meanwhile.
 */
export async function deleteExpiredMessageChunk(tx: Tx, cutoff: number, limit: number): Promise<DeletedMessages> {
  const { selected, ids } = await claimFinalMessages(tx, cutoff, limit);
  if (ids.length === 0) return { selected, messages: 0, deliveries: 0, attempts: 0 };
  // Each through an index that leads with the message's id. Deliveries go before the messages they reference, and
  // take their restarts along (delivery_restarts' foreign key cascades, through the index on delivery_id).
  const attempts = await tx.deleteFrom("attempts").where("message_id", "in", ids).executeTakeFirst();
  const deliveries = await tx.deleteFrom("deliveries").where("message_id", "in", ids).executeTakeFirst();
  const messages = await tx.deleteFrom("messages").where("id", "in", ids).executeTakeFirst();
  return {
    selected,
    messages: Number(messages.numDeletedRows),
    deliveries: Number(deliveries.numDeletedRows),
    attempts: Number(attempts.numDeletedRows),
  };
}

/**
 * One chunk of the retention job's deletes, each a statement of its own so
 * that no run holds the write lock for long. On PostgreSQL rows another
 * transaction holds (a publish claiming the same key, another worker's run)
 * are skipped and left for the next chunk or run.
 */

/** Deletes at most `limit` idempotency keys created at or before `cutoff`, oldest first. Returns how many went. */
export async function deleteIdempotencyKeys(store: Store, cutoff: number, limit: number): Promise<number> {
  const result = await store.writeStatement((db) => {
    let expired = db.selectFrom("idempotency_keys").select(["client_id", "key"]).where("created_at", "<=", cutoff).orderBy("created_at").limit(limit);
    expired = store.dialect.claimRows(expired);
    return db
      .deleteFrom("idempotency_keys")
      .where((eb) => eb(eb.refTuple("client_id", "key"), "in", expired.$asTuple("client_id", "key")))
      .executeTakeFirst();
  });
  return Number(result.numDeletedRows);
}

/** Empties the response excerpts of at most `limit` attempts started before `cutoff`, oldest first. Returns how many. */
export async function clearResponseExcerpts(store: Store, cutoff: number, limit: number): Promise<number> {
  const result = await store.writeStatement((db) => {
    // The condition on response_excerpt matches the partial index of attempts whose excerpt is held.
    let expired = db
      .selectFrom("attempts")
      .select("id")
      .where("response_excerpt", "is not", null)
      .where("started_at", "<", cutoff)
      .orderBy("started_at")
      .limit(limit);
    expired = store.dialect.claimRows(expired);
    return db.updateTable("attempts").set({ response_excerpt: null }).where("id", "in", expired).executeTakeFirst();
  });
  return Number(result.numUpdatedRows);
}
