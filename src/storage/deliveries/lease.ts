import type { DeliveryId } from "../../ids.ts";
import type { Db } from "../database.ts";
import { dialectOf } from "../dialect/index.ts";

/** A lease's token and the deliveries it took. */
export interface Lease {
  owner: string;
  ids: DeliveryId[];
  /** When the lease runs out and another worker may take the deliveries over. */
  expiresAt: number;
}

/**
 * The share of a lease taken from the newest end of what is due: those that
 * fell due last, fresh events for the most part. The rest is taken oldest
 * first, so nothing waits for ever.
 */
const FRESH_SHARE = 0.5;

/**
 * Leases up to `limit` due deliveries to `owner` for `leaseMs`. Half come
 * from the newest end of what is due and the rest from the oldest: a
 * consumer's backlog (its circuit closing on thousands of held deliveries,
 * a worker's leases running out, a large recover) drains from the oldest
 * end at the capacity left over, while the deliveries that just fell due,
 * other consumers' fresh events among them, go in the next batch instead of
 * waiting behind the backlog. Each end is one index range scan of at most
 * `limit` rows, whatever is queued.
 *
 * A lease moves the delivery's due time to the lease's end, as a queue's
 * visibility timeout does: the claim scans only what is due, never the rows
 * in flight, and a delivery whose worker died falls due again by itself.
 * That also keeps the second statement from taking what the first took.
 * Two workers never get the same row: SQLite serialises writers, and
 * PostgreSQL skips rows another worker has locked. It runs in the caller's
 * transaction, so a worker can take its next batch in the one that records
 * the last.
 */
export async function leaseDueDeliveries(tx: Db, owner: string, now: number, leaseMs: number, limit: number): Promise<Lease> {
  const expiresAt = now + leaseMs;
  const lease = async (order: "asc" | "desc", count: number) => {
    if (count <= 0) return [];
    const due = tx.selectFrom("deliveries").select("id").where("next_attempt_at", "<=", now).orderBy("next_attempt_at", order).limit(count);
    const leased = await tx
      .updateTable("deliveries")
      .set((eb) => ({ lease_owner: owner, next_attempt_at: expiresAt, unrecorded_claims: eb("unrecorded_claims", "+", 1) }))
      .where("id", "in", dialectOf(tx).claimRows(due))
      .returning("id")
      .execute();
    return leased.map((row) => row.id);
  };
  const freshest = await lease("desc", Math.floor(limit * FRESH_SHARE));
  const oldest = await lease("asc", limit - freshest.length);
  return { owner, ids: [...oldest, ...freshest], expiresAt };
}
