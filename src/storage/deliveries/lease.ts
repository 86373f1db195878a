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
 * Leases up to `limit` due deliveries to `owner` for `leaseMs`, oldest due
 * first. One statement, so two workers never get the same row: SQLite
 * serialises writers, and PostgreSQL skips rows another worker has locked.
 * A lease moves the delivery's due time to the lease's end, as a queue's
 * visibility timeout does: the claim scans only what is due, never the rows
 * in flight, and a delivery whose worker died falls due again by itself.
 * It runs in the caller's transaction, so a worker can take its next batch
 * in the one that records the last.
 */
export async function leaseDueDeliveries(tx: Db, owner: string, now: number, leaseMs: number, limit: number): Promise<Lease> {
  let due = tx.selectFrom("deliveries").select("id").where("next_attempt_at", "<=", now).orderBy("next_attempt_at").limit(limit);
  due = dialectOf(tx).claimRows(due);
  const expiresAt = now + leaseMs;
  const leased = await tx
    .updateTable("deliveries")
    .set((eb) => ({ lease_owner: owner, next_attempt_at: expiresAt, unrecorded_claims: eb("unrecorded_claims", "+", 1) }))
    .where("id", "in", due)
    .returning("id")
    .execute();
  return { owner, ids: leased.map((row) => row.id), expiresAt };
}
