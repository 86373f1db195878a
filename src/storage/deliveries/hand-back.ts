import { sql } from "kysely";
import type { DeliveryId } from "../../ids.ts";
import type { Db, Tx } from "../database.ts";
import type { ParkedReason } from "../schema.ts";

/**
 * Gives leased deliveries back to the queue, due at `dueAt`; the claim that
 * took them is not counted. `parked`: they wait parked for that reason (see
 * parkLeased), otherwise they wait for nothing but their time.
 */
export async function handBack(db: Db, owner: string, ids: readonly DeliveryId[], dueAt: number, parked: ParkedReason | null = null): Promise<void> {
  await db
    .updateTable("deliveries")
    .set((eb) => ({ lease_owner: null, next_attempt_at: dueAt, parked_reason: parked, unrecorded_claims: eb("unrecorded_claims", "-", 1) }))
    .where("id", "in", ids)
    .where("lease_owner", "=", owner)
    .execute();
}

/** Gives leased deliveries back, each due at (and holding) its own rate-limit slot: one statement for the lot. */
export async function handBackToSlots(tx: Tx, owner: string, slots: ReadonlyMap<DeliveryId, number>): Promise<void> {
  const slotOf = sql<number>`CASE id ${sql.join(
    [...slots].map(([id, slot]) => sql`WHEN ${id} THEN CAST(${Math.ceil(slot)} AS bigint)`),
    sql` `,
  )} END`;
  await tx
    .updateTable("deliveries")
    .set((eb) => ({ lease_owner: null, next_attempt_at: slotOf, rate_slot_at: slotOf, unrecorded_claims: eb("unrecorded_claims", "-", 1) }))
    .where("id", "in", [...slots.keys()])
    .where("lease_owner", "=", owner)
    .execute();
}
