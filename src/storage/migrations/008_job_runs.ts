import type { Kysely } from "kysely";

// Periodic jobs (retention, the quota reset) claim each run here, so that of the processes sharing the
// database one runs it. One row per job, made by its first claim.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("job_runs")
    .addColumn("name", "text", (col) => col.primaryKey())
    .addColumn("due_at", "bigint", (col) => col.notNull())
    .addColumn("owner", "text", (col) => col.notNull())
    .addColumn("claimed_at", "bigint", (col) => col.notNull())
    .execute();
}
