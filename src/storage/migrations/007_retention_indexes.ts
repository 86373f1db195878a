import { sql, type Kysely } from "kysely";

// The retention job's scans of expired idempotency keys and of attempts whose response excerpt is still held.
// Portable schema builder only.
export async function up(db: Kysely<unknown>): Promise<void> {
  // 004's (client_id, created_at) serves a client's own claims; the job looks across clients by age.
  await db.schema.createIndex("idempotency_keys_by_created").on("idempotency_keys").column("created_at").execute();
  // Partial, like messages_payload_held: an attempt leaves it once its excerpt is emptied, so it holds only the retention period's attempts.
  await db.schema.createIndex("attempts_excerpt_held").on("attempts").column("started_at").where(sql.ref("response_excerpt"), "is not", null).execute();
}
