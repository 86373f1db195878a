import type { Clock } from "../../clock.ts";
import { asId, type ConsumerId, type DeliveryId } from "../../ids.ts";
import type { Store } from "../database.ts";
import { handBackToSlots } from "./hand-back.ts";

/** A slot still counts when its delivery is paced at most half a spacing late, or this long if that is longer. */
const MIN_SLOT_GRACE_MS = 25;

/** A claimed delivery to a rate-limited consumer, with the send slot it holds from an earlier claim, if any. */
export interface PacedDelivery {
  id: DeliveryId;
  consumerId: ConsumerId;
  rateSlotAt: number | null;
}

/** A rate-limited consumer's limit and next free send slot, as stored. */
export interface ConsumerRate {
  id: ConsumerId;
  rate_limit: number | null;
  rate_next_at: number | null;
}

export interface SlotAllocation {
  /** Deliveries whose slot lies ahead, with that slot: they wait for it. */
  waiting: Map<DeliveryId, number>;
  /** Deliveries that send now in the slot they held: it is used up. */
  slotsUsed: DeliveryId[];
  /** Consumers whose next free slot moved, and where to. */
  nextFree: Array<{ consumerId: ConsumerId; at: number }>;
}

/**
 * Gives each claimed delivery its send slot at `now`: a consumer's slots are
 * 1/limit seconds apart, drawn in order from its next free one. A delivery
 * that holds a slot sends in it if it is due (at most a grace late), waits
 * for it if it lies ahead, and takes a new one if it was claimed too late.
 */
export function allocateRateSlots(consumers: readonly ConsumerRate[], deliveries: readonly PacedDelivery[], now: number): SlotAllocation {
  const allocation: SlotAllocation = { waiting: new Map(), slotsUsed: [], nextFree: [] };
  for (const consumer of consumers) {
    // The limit may have been lifted since the claim; then nothing waits.
    if (consumer.rate_limit === null) continue;
    const spacing = 1000 / consumer.rate_limit;
    const grace = Math.max(spacing / 2, MIN_SLOT_GRACE_MS);
    let nextFree = consumer.rate_next_at ?? 0;
    for (const delivery of deliveries) {
      if (delivery.consumerId !== consumer.id) continue;
      if (delivery.rateSlotAt !== null && delivery.rateSlotAt > now) {
        allocation.waiting.set(delivery.id, delivery.rateSlotAt);
        continue;
      }
      if (delivery.rateSlotAt !== null && now - delivery.rateSlotAt <= grace) {
        allocation.slotsUsed.push(delivery.id);
        continue;
      }
      const slot = Math.max(nextFree, now);
      nextFree = slot + spacing;
      if (slot > now) allocation.waiting.set(delivery.id, slot);
      else if (delivery.rateSlotAt !== null) allocation.slotsUsed.push(delivery.id);
    }
    if (nextFree !== (consumer.rate_next_at ?? 0)) allocation.nextFree.push({ consumerId: consumer.id, at: Math.ceil(nextFree) });
  }
  return allocation;
}

/**
 * Paces the claimed deliveries of rate-limited consumers: each send takes a
 * slot, and a consumer's slots are 1/limit seconds apart, so no second sees
 * more than its limit (one more when a slot is used a little late). The next
 * free slot lives on the consumer row, locked while it is read and moved, so
 * every worker sharing the database draws from the same sequence. A delivery
 * whose slot lies ahead is handed back, due at that slot and holding it;
 * when it is claimed again it sends in its slot, or takes a new one if it
 * was claimed too late. Returns the deliveries handed back.
 */
export async function paceRateLimited(store: Store, owner: string, clock: Clock, deliveries: readonly PacedDelivery[]): Promise<Set<DeliveryId>> {
  return store.transaction(async ({ tx }) => {
    let query = tx
      .selectFrom("consumers")
      .select(["id", "rate_limit", "rate_next_at"])
      .where("id", "in", [...new Set(deliveries.map((delivery) => delivery.consumerId))])
      .orderBy("id");
    query = store.dialect.lockRows(query);
    const consumers = (await query.execute()).map((consumer) => ({ ...consumer, id: asId<ConsumerId>(consumer.id) }));
    // The time once the slots are ours, just before the sends start: lateness is measured against it.
    const { waiting, slotsUsed, nextFree } = allocateRateSlots(consumers, deliveries, clock.now());
    for (const { consumerId, at } of nextFree) await tx.updateTable("consumers").set({ rate_next_at: at }).where("id", "=", consumerId).execute();
    if (slotsUsed.length > 0) await tx.updateTable("deliveries").set({ rate_slot_at: null }).where("id", "in", slotsUsed).execute();
    if (waiting.size > 0) await handBackToSlots(tx, owner, waiting);
    return new Set(waiting.keys());
  });
}
