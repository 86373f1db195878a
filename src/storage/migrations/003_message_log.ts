import { sql, type Kysely } from "kysely";

// The message log: keyset-paged listings, payload retention and restarted deliveries. Portable schema builder only.
export async function up(db: Kysely<unknown>): Promise<void> {
  // `body` stays NOT NULL (SQLite cannot relax a column's nullability): a purged body is emptied and this marks it.
  await db.schema.alterTable("messages").addColumn("payload_purged_at", "bigint").execute();

  // Listings page newest first on (created_at, id) within a client; this index supersedes 001's (client_id, created_at).
  await db.schema.dropIndex("messages_by_client").execute();
  await db.schema.createIndex("messages_by_client_time").on("messages").columns(["client_id", "created_at", "id"]).execute();
  await db.schema.createIndex("messages_by_event_type").on("messages").columns(["client_id", "event_type", "created_at", "id"]).execute();
  await db.schema.createIndex("messages_by_company").on("messages").columns(["client_id", "company_id", "created_at", "id"]).execute();
  // The retention job looks only at messages whose payload is still held.
  await db.schema.createIndex("messages_payload_held").on("messages").column("created_at").where(sql.ref("payload_purged_at"), "is", null).execute();

  await db.schema.createIndex("attempts_by_message").on("attempts").columns(["message_id", "started_at", "id"]).execute();

  // Deliveries need no new index: listings and recovery find a message's delivery through the unique (message_id,
  // consumer_id) index, and an index on status would be rewritten at every attempt, on the hot path.

  // Each resend or recovery of an existing delivery starts a new attempt schedule; attempts made after a restart belong to the next schedule.
  await db.schema
    .createTable("delivery_restarts")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("delivery_id", "text", (col) => col.notNull().references("deliveries.id").onDelete("cascade"))
    .addColumn("reason", "text", (col) => col.notNull())
    .addColumn("restarted_at", "bigint", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("delivery_restarts_by_delivery").on("delivery_restarts").columns(["delivery_id", "restarted_at"]).execute();
}
