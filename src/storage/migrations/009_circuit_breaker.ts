import type { Kysely } from "kysely";

// Each consumer's circuit breaker: its run of failed attempts and, while its circuit is open, when the next probe may go.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("consumers")
    .addColumn("consecutive_failures", "integer", (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable("consumers").addColumn("circuit_open_until", "bigint").execute();
}
