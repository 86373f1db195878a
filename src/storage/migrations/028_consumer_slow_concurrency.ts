import type { Kysely } from "kysely";

// A consumer's own cap on the attempts a worker keeps in flight to it while it is slow; null: the deployment's
// HOOKLINE_SLOW_CONSUMER_CONCURRENCY.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("consumers").addColumn("slow_concurrency", "integer").execute();
}
