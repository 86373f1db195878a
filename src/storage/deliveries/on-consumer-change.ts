import type { ClientId, ConsumerId } from "../../ids.ts";
import { deleteActivityHoursOfConsumer } from "../activity-hours.ts";
import type { Tx } from "../database.ts";

// What a change to a consumer does to its deliveries' schedules.

/**
 * Drops the send slots the consumer's waiting deliveries reserved under its
 * old rate limit: they fall due `now` and are paced again under the new one.
 * Deliveries a worker holds keep their lease, and final ones stay final.
 * Returns whether any delivery fell due, for the caller to wake workers.
 */
export async function releaseRateSlots(tx: Tx, consumerId: ConsumerId, now: number): Promise<boolean> {
  const released = await tx
    .updateTable("deliveries")
    .set({ rate_slot_at: null, next_attempt_at: now })
    .where("consumer_id", "=", consumerId)
    .where("rate_slot_at", "is not", null)
    .where("next_attempt_at", "is not", null)
    .where("lease_owner", "is", null)
    .executeTakeFirst();
  return released.numUpdatedRows > 0n;
}

/** Deletes every delivery to the consumer, its attempts and their hourly counts: what is still scheduled stops, and the log of it goes. */
export async function deleteDeliveriesOfConsumer(tx: Tx, clientId: ClientId, consumerId: ConsumerId): Promise<void> {
  // Through its deliveries: attempts are indexed by delivery, not by consumer, and the log only grows.
  await tx
    .deleteFrom("attempts")
    .where("delivery_id", "in", tx.selectFrom("deliveries").select("id").where("consumer_id", "=", consumerId))
    .execute();
  await tx.deleteFrom("deliveries").where("consumer_id", "=", consumerId).execute();
  await deleteActivityHoursOfConsumer(tx, clientId, consumerId);
}
