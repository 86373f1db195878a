import type { Kysely } from "kysely";
import { dialectOf, type Db } from "../dialect/index.ts";

// Message retention deletes messages, with their deliveries and attempts, once they are older than the retention
// period. Portable schema builder, and one setting the dialect applies where it has one.
export async function up(db: Kysely<unknown>): Promise<void> {
  // The job finds expired messages by age across clients, purged or not: 003's indexes lead with the client, and
  // messages_payload_held holds only those whose body is still there. A message's deliveries, attempts and
  // restarts are found by the indexes that lead with its id (deliveries_message_consumer, attempts_by_message,
  // delivery_restarts_by_delivery), so the job needs no other.
  await db.schema.createIndex("messages_by_created").on("messages").column("created_at").execute();

  // On PostgreSQL autovacuum reclaims the rows retention deletes and the deliveries' updates leave behind once
  // 20% of a table changed: a week of deletes for a table that holds 30 days. At 2% it comes about daily.
  const dialect = dialectOf(db as unknown as Db);
  for (const table of ["messages", "deliveries", "attempts"] as const) await dialect.vacuumAfterChurn(db, table, 0.02);
}
