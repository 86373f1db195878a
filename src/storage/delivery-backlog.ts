import type { Db } from "./database.ts";

export interface DeliveryBacklog {
  /** Deliveries waiting for an attempt, due now or later. */
  pending: number;
  /** When the earliest of them is due; null when none waits. */
  earliestDueAt: number | null;
}

/** The delivery queue across every process: one query on the index of pending deliveries. */
export async function deliveryBacklog(db: Db): Promise<DeliveryBacklog> {
  const row = await db
    .selectFrom("deliveries")
    .select((eb) => [eb.fn.countAll().as("pending"), eb.fn.min("next_attempt_at").as("earliest")])
    .where("next_attempt_at", "is not", null)
    .executeTakeFirst();
  return {
    pending: Number(row?.pending ?? 0),
    earliestDueAt: row?.earliest === null || row?.earliest === undefined ? null : Number(row.earliest),
  };
}
