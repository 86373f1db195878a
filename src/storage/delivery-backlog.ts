import type { Db } from "./database.ts";
import { PARKED_AT } from "./deliveries/park.ts";
import type { ParkedReason } from "./schema.ts";

/** Every reason a delivery waits parked, each reported even when none waits for it. */
export const PARKED_REASONS = ["circuit", "line", "slot", "listen"] as const satisfies readonly ParkedReason[];

export interface DeliveryBacklog {
  /** Deliveries waiting for an attempt, due now or later. */
  pending: number;
  /** When the earliest of them is due; null when none waits. Parked deliveries are not due at any time. */
  earliestDueAt: number | null;
  /** Of the pending deliveries, those parked, by why they wait: an open circuit, a line, a slot, a listening stream. */
  parked: Record<ParkedReason, number>;
  /** Consumers whose circuit is open. */
  openCircuits: number;
}

/** The delivery queue across every process: queries on the index of pending deliveries, and the consumers with an open circuit. */
export async function deliveryBacklog(db: Db): Promise<DeliveryBacklog> {
  const row = await db
    .selectFrom("deliveries")
    .select((eb) => [eb.fn.countAll().as("pending"), eb.fn.min("next_attempt_at").as("earliest")])
    .where("next_attempt_at", "is not", null)
    .where("next_attempt_at", "<", PARKED_AT)
    .executeTakeFirst();
  // A delivery has a reason exactly while it is parked, so the partial index of parked deliveries answers alone.
  const reasons = await db
    .selectFrom("deliveries")
    .select((eb) => ["parked_reason", eb.fn.countAll().as("count")])
    .where("parked_reason", "is not", null)
    .groupBy("parked_reason")
    .execute();
  const parked = Object.fromEntries(PARKED_REASONS.map((reason) => [reason, 0])) as Record<ParkedReason, number>;
  for (const row of reasons) parked[row.parked_reason!] = Number(row.count);
  const open = await db
    .selectFrom("consumers")
    .select((eb) => eb.fn.countAll().as("count"))
    .where("circuit_open_until", "is not", null)
    .executeTakeFirst();
  return {
    pending: Number(row?.pending ?? 0) + Object.values(parked).reduce((sum, count) => sum + count, 0),
    earliestDueAt: row?.earliest === null || row?.earliest === undefined ? null : Number(row.earliest),
    parked,
    openCircuits: Number(open?.count ?? 0),
  };
}
