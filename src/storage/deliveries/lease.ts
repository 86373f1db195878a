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
  const freshest = await leaseEnd(tx, owner, now, expiresAt, "desc", Math.floor(limit * FRESH_SHARE));
  const oldest = await leaseEnd(tx, owner, now, expiresAt, "asc", limit - freshest.length);
  return { owner, ids: [...oldest, ...freshest], expiresAt };
}

/**
 * Leases up to `limit` of the deliveries that fell due at `since` or later,
 * newest first: what the worker's fresh lane sends while its batches are all
 * busy with a backlog. One index range scan from `now` down to `since`.
 */
export async function leaseFreshDeliveries(tx: Db, owner: string, now: number, leaseMs: number, limit: number, since: number): Promise<Lease> {
  const expiresAt = now + leaseMs;
  return { owner, ids: await leaseEnd(tx, owner, now, expiresAt, "desc", limit, since), expiresAt };
}

/** Leases up to `count` due deliveries from one end of what is due (due since `since`, when given). */
async function leaseEnd(tx: Db, owner: string, now: number, expiresAt: number, order: "asc" | "desc", count: number, since?: number): Promise<DeliveryId[]> {
  if (count <= 0) return [];
  let due = tx.selectFrom("deliveries").select("id").where("next_attempt_at", "<=", now);
  if (since !== undefined) due = due.where("next_attempt_at", ">=", since);
  const leased = await tx
    .updateTable("deliveries")
    .set((eb) => ({ lease_owner: owner, next_attempt_at: expiresAt, unrecorded_claims: eb("unrecorded_claims", "+", 1) }))
    .where("id", "in", dialectOf(tx).claimRows(due.orderBy("next_attempt_at", order).limit(count)))
    .returning("id")
    .execute();
  return leased.map((row) => row.id);
}
