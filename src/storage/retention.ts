import { PENDING_DELIVERY_STATUSES } from "../constants/statuses.ts";
import type { Store } from "./database.ts";
import { dialectOf, type Tx } from "./dialect/index.ts";
import { deliveriesOf } from "./messages.ts";

/**
 * Empties the bodies of at most `limit` messages created before `cutoff`,
 * oldest first, and marks them purged at `now`, leaving those with a delivery
 * still pending. Returns how many messages it looked at and how many it emptied.
 */
export async function purgeExpiredPayloadChunk(tx: Tx, cutoff: number, now: number, limit: number): Promise<{ selected: number; emptied: number }> {
  const expired = tx
    .selectFrom("messages")
    .select("id")
    .where("payload_purged_at", "is", null)
    .where("created_at", "<", cutoff)
    .where((eb) => eb.not(eb.exists(deliveriesOf(eb, undefined, PENDING_DELIVERY_STATUSES))))
    .orderBy("created_at")
    .limit(limit);
  // Messages a redelivery holds (lockMessages) are left for the next run; other workers' purges take other rows.
  const ids = (await dialectOf(tx).claimRows(expired).execute()).map((row) => row.id);
  if (ids.length === 0) return { selected: 0, emptied: 0 };
  // A redelivery that committed after the statement above started is seen by this one (each PostgreSQL statement reads the latest commits).
  const pending = await tx
    .selectFrom("deliveries")
    .select("message_id")
    .where("message_id", "in", ids)
    .where("status", "in", PENDING_DELIVERY_STATUSES)
    .execute();
  const stillPending = new Set(pending.map((row) => row.message_id));
  const purgeable = ids.filter((id) => !stillPending.has(id));
  if (purgeable.length > 0) await tx.updateTable("messages").set({ body: "", payload_purged_at: now }).where("id", "in", purgeable).execute();
  return { selected: ids.length, emptied: purgeable.length };
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
