import { sql, type Kysely } from "kysely";

// The portal's 24-hour and 7-day activity charts read attempts counted per client, consumer and hour as they are
// recorded, instead of counting up to a week of attempts at every view: over a million attempts that count took
// over a second (docs/performance.md, "Portal pages"). The 6-hour chart, in ten-minute buckets, still counts attempts.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("activity_hours")
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("hour_start", "bigint", (col) => col.notNull())
    .addColumn("consumer_id", "text", (col) => col.notNull())
    .addColumn("succeeded", "bigint", (col) => col.notNull())
    .addColumn("failed", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("activity_hours_pk", ["client_id", "hour_start", "consumer_id"])
    .execute();
  // For the retention job, which deletes the hours past message retention.
  await db.schema.createIndex("activity_hours_by_hour").on("activity_hours").column("hour_start").execute();
  // The attempts already logged, counted once; the whole hour from the remainder, which both databases take in whole numbers.
  await sql`INSERT INTO activity_hours (client_id, hour_start, consumer_id, succeeded, failed)
    SELECT client_id, started_at - started_at % 3600000, consumer_id, SUM(succeeded), COUNT(*) - SUM(succeeded)
    FROM attempts GROUP BY client_id, started_at - started_at % 3600000, consumer_id`.execute(db);
}
