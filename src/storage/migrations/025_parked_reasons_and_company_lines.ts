import { sql, type Kysely } from "kysely";

/** The due time of a parked delivery as the code of this migration's time wrote it (deliveries/park.ts, PARKED_AT). */
const PARKED_AT = 8_640_000_000_000_000;

// Why each parked delivery waits, so that each release (a circuit closing, a slow consumer's slots freed, a line's
// head ending, a listening CLI's stream) releases exactly its own; and each delivery's company, so that a consumer
// ordered by company finds the head of a company's line through one index.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deliveries").addColumn("parked_reason", "text").execute();
  await db.schema.alterTable("deliveries").addColumn("company_id", "text").execute();
  // Every delivery, final ones too: a resend or a recovery puts them back in line.
  await sql`UPDATE deliveries SET company_id = (SELECT messages.company_id FROM messages WHERE messages.id = deliveries.message_id)`.execute(db);
  // Until now the consumer's state told why its deliveries were parked, as the releases read it.
  await sql`UPDATE deliveries SET parked_reason = (SELECT CASE
      WHEN consumers.url LIKE 'listen:%' THEN 'listen'
      WHEN consumers.circuit_open_until IS NOT NULL THEN 'circuit'
      WHEN consumers.ordering = 'fifo' THEN 'line'
      ELSE 'slot' END
    FROM consumers WHERE consumers.id = deliveries.consumer_id)
    WHERE next_attempt_at = ${sql.lit(PARKED_AT)}`.execute(db);
  await db.schema
    .createIndex("deliveries_pending_by_company_line")
    .on("deliveries")
    .columns(["consumer_id", "company_id", "id"])
    .where(sql.ref("next_attempt_at"), "is not", null)
    .execute();
  // Each release finds its own among the few parked deliveries, whatever else is queued.
  await db.schema
    .createIndex("deliveries_parked")
    .on("deliveries")
    .columns(["consumer_id", "parked_reason", "id"])
    .where(sql.ref("parked_reason"), "is not", null)
    .execute();
}
