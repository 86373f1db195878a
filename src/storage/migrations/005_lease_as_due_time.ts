import { sql, type Kysely } from "kysely";

// A lease now moves a delivery's due time to the lease's end (a visibility timeout), so the claim scans only
// due rows. Deliveries leased when this runs keep their lease's end as their due time.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`UPDATE deliveries SET next_attempt_at = lease_expires_at WHERE lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL`.execute(db);
  await db.schema.alterTable("deliveries").dropColumn("lease_expires_at").execute();
}
