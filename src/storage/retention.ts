import type { Store } from "./database.ts";

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
