import type { Db } from "../database.ts";

/** When the earliest pending delivery falls due (a leased one when its lease runs out), or null when there is none. */
export async function nextDueAt(db: Db): Promise<number | null> {
  const row = await db
    .selectFrom("deliveries")
    .select((eb) => eb.fn.min("next_attempt_at").as("due"))
    .where("next_attempt_at", "is not", null)
    .executeTakeFirst();
  return row?.due === undefined || row.due === null ? null : Number(row.due);
}
