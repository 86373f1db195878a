import type { Db } from "./database.ts";
import { PARKED_AT } from "./deliveries/park.ts";

export interface DeliveryBacklog {
  /** Deliveries waiting for an attempt, due now or later. */
  pending: number;
  /** When the earliest of them is due; null when none waits. Parked deliveries are not due at any time. */
  earliestDueAt: number | null;
  /** Of the pending deliveries, those parked (for any reason: an open circuit, a line, a slot, a listening stream). */
  parked: number;
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
  const parked = await db
    .selectFrom("deliveries")
    .select((eb) => eb.fn.countAll().as("count"))
    .where("next_attempt_at", "=", PARKED_AT)
    .executeTakeFirst();
  const open = await db
    .selectFrom("consumers")
    .select((eb) => eb.fn.countAll().as("count"))
    .where("circuit_open_until", "is not", null)
    .executeTakeFirst();
  return {
    pending: Number(row?.pending ?? 0) + Number(parked?.count ?? 0),
    earliestDueAt: row?.earliest === null || row?.earliest === undefined ? null : Number(row.earliest),
    parked: Number(parked?.count ?? 0),
    openCircuits: Number(open?.count ?? 0),
  };
}
