import type { Kysely } from "kysely";

// Counts a delivery's claims since an outcome was last recorded for it: above one, a claim before this one
// ended without a record (its worker died while sending), and that lost attempt is counted on the schedule.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("deliveries")
    .addColumn("unrecorded_claims", "integer", (col) => col.notNull().defaultTo(0))
    .execute();
}
