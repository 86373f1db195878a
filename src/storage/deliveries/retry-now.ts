import { sql } from "kysely";
import type { ConsumerId, DeliveryId } from "../../ids.ts";
import type { Db, Tx } from "../database.ts";
import { PARKED_AT } from "./park.ts";

// Retry now: a consumer's deliveries that wait for their next attempt are brought forward, keeping their status and
// attempt count. Left alone: those leased (an attempt in flight), parked (an open circuit or a fifo line decides when
// they go), and those waiting only for their rate-limit slot (the limit decides that).

/** A delivery waiting for a later attempt, and when that attempt is due. */
export interface WaitingDelivery {
  id: DeliveryId;
  nextAttemptAt: number;
}

/**
 * The consumer's deliveries waiting for an attempt due after `now`, oldest
 * first, `limit` at a time after the delivery `after`. Read through the index
 * of pending deliveries by consumer.
 */
export async function readWaitingDeliveries(
  db: Db,
  consumerId: ConsumerId,
  now: number,
  after: DeliveryId | undefined,
  limit: number,
): Promise<WaitingDelivery[]> {
  let query = db
    .selectFrom("deliveries")
    .select(["id", "next_attempt_at"])
    .where("consumer_id", "=", consumerId)
    .where("next_attempt_at", "is not", null)
    .where("next_attempt_at", ">", now)
    .where("next_attempt_at", "<", PARKED_AT)
    .where("lease_owner", "is", null)
    .where("rate_slot_at", "is", null);
  if (after !== undefined) query = query.where("id", ">", after);
  const rows = await query.orderBy("id").limit(limit).execute();
  return rows.map((row) => ({ id: row.id, nextAttemptAt: Number(row.next_attempt_at) }));
}

/**
 * Makes each delivery due at its own time, if it still waits for a later
 * attempt (a worker may have claimed or finished it since it was read), in
 * one statement. Returns how many it brought forward.
 */
export async function bringForward(tx: Tx, due: ReadonlyMap<DeliveryId, number>, now: number): Promise<number> {
  if (due.size === 0) return 0;
  const dueAt = sql<number>`CASE id ${sql.join(
    [...due].map(([id, at]) => sql`WHEN ${id} THEN CAST(${at} AS bigint)`),
    sql` `,
  )} END`;
  const result = await tx
    .updateTable("deliveries")
    .set({ next_attempt_at: dueAt, updated_at: now })
    .where("id", "in", [...due.keys()])
    .where("next_attempt_at", ">", dueAt)
    .where("next_attempt_at", "<", PARKED_AT)
    .where("lease_owner", "is", null)
    .where("rate_slot_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
