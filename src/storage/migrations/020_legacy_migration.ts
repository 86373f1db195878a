import type { Kysely } from "kysely";

// The migration of a legacy rule consumer to event types (README, "Migrating from legacy rules").
export async function up(db: Kysely<unknown>): Promise<void> {
  // A legacy alert's source: the event it was rendered from, so the comparison report pairs each alert with the
  // replacement's delivery of the same change. Null for events, and for alerts recorded before this column.
  await db.schema.alterTable("messages").addColumn("source_message_id", "text").execute();
  // A replacement consumer in shadow mode: its deliveries are built and recorded but never sent to its URL (only to
  // its test URL, when it has one). `replaces_id` names the legacy consumer it replaces (kept after that one's deletion).
  await db.schema
    .alterTable("consumers")
    .addColumn("shadow", "integer", (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable("consumers").addColumn("shadow_test_url", "text").execute();
  await db.schema.alterTable("consumers").addColumn("replaces_id", "text").execute();
  // Each consumer's history: the steps of a migration, newest last.
  await db.schema
    .createTable("consumer_history")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull().references("clients.id"))
    .addColumn("consumer_id", "text", (col) => col.notNull())
    .addColumn("at", "bigint", (col) => col.notNull())
    .addColumn("action", "text", (col) => col.notNull())
    .addColumn("detail", "text", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("consumer_history_by_consumer").on("consumer_history").columns(["consumer_id", "at"]).execute();
}
