import { sql, type Kysely } from "kysely";

// Ordered delivery on request: a consumer's `ordering`, and the index that finds the oldest pending delivery of a
// consumer (the head of its line) without reading the deliveries it already finished.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("consumers")
    .addColumn("ordering", "text", (col) => col.notNull().defaultTo("unordered"))
    .execute();
  await db.schema
    .createIndex("deliveries_pending_by_consumer")
    .on("deliveries")
    .columns(["consumer_id", "id"])
    .where(sql.ref("next_attempt_at"), "is not", null)
    .execute();
}
