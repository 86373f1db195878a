import type { Kysely } from "kysely";

// Portable column types only: both SQLite and PostgreSQL run this file as is.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("clients")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .execute();

  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull().references("clients.id"))
    .addColumn("name", "text")
    .addColumn("key_hash", "text", (col) => col.notNull().unique())
    .addColumn("key_hint", "text", (col) => col.notNull())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .execute();

  await db.schema
    .createTable("companies")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull().references("clients.id"))
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("description", "text")
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("companies_by_client").on("companies").columns(["client_id", "created_at"]).execute();

  await db.schema
    .createTable("company_tags")
    .addColumn("company_id", "text", (col) => col.notNull().references("companies.id").onDelete("cascade"))
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("key", "text", (col) => col.notNull())
    .addColumn("value", "text", (col) => col.notNull())
    .addPrimaryKeyConstraint("company_tags_pk", ["company_id", "key"])
    .execute();
  await db.schema.createIndex("company_tags_by_value").on("company_tags").columns(["client_id", "key", "value"]).execute();

  await db.schema
    .createTable("connections")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("company_id", "text", (col) => col.notNull().references("companies.id").onDelete("cascade"))
    .addColumn("integration_key", "text", (col) => col.notNull())
    .addColumn("status", "text", (col) => col.notNull())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addColumn("last_sync_at", "bigint")
    .execute();
  await db.schema.createIndex("connections_by_company").on("connections").columns(["company_id", "created_at"]).execute();

  await db.schema
    .createTable("connection_errors")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("connection_id", "text", (col) => col.notNull().references("connections.id").onDelete("cascade"))
    .addColumn("status_code", "text", (col) => col.notNull())
    .addColumn("status_text", "text", (col) => col.notNull())
    .addColumn("error_message", "text", (col) => col.notNull())
    .addColumn("errored_at", "bigint", (col) => col.notNull())
    .addColumn("status", "text", (col) => col.notNull())
    .addColumn("resolved_at", "bigint")
    .execute();
  await db.schema.createIndex("connection_errors_by_connection").on("connection_errors").columns(["connection_id", "errored_at"]).execute();

  await db.schema
    .createTable("consumers")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull().references("clients.id"))
    .addColumn("url", "text", (col) => col.notNull())
    .addColumn("event_types", "text", (col) => col.notNull())
    .addColumn("company_tags", "text")
    .addColumn("disabled", "integer", (col) => col.notNull().defaultTo(0))
    .addColumn("signing_secret", "text", (col) => col.notNull())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("consumers_by_client").on("consumers").columns(["client_id", "created_at"]).execute();

  await db.schema
    .createTable("messages")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("event_type", "text", (col) => col.notNull())
    .addColumn("company_id", "text")
    .addColumn("body", "text", (col) => col.notNull())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("messages_by_client").on("messages").columns(["client_id", "created_at"]).execute();

  await db.schema
    .createTable("deliveries")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("message_id", "text", (col) => col.notNull().references("messages.id"))
    .addColumn("consumer_id", "text", (col) => col.notNull())
    .addColumn("status", "text", (col) => col.notNull())
    .addColumn("attempt_count", "integer", (col) => col.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "bigint")
    .addColumn("lease_owner", "text")
    .addColumn("lease_expires_at", "bigint")
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addColumn("updated_at", "bigint", (col) => col.notNull())
    .addUniqueConstraint("deliveries_message_consumer", ["message_id", "consumer_id"])
    .execute();
  // Only pending deliveries have a next attempt, so the claim query scans just the due work.
  await db.schema
    .createIndex("deliveries_due")
    .on("deliveries")
    .column("next_attempt_at")
    .where((eb) => eb("next_attempt_at", "is not", null))
    .execute();
  await db.schema.createIndex("deliveries_by_consumer").on("deliveries").columns(["consumer_id", "created_at"]).execute();

  await db.schema
    .createTable("attempts")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("delivery_id", "text", (col) => col.notNull())
    .addColumn("message_id", "text", (col) => col.notNull())
    .addColumn("consumer_id", "text", (col) => col.notNull())
    .addColumn("attempt_number", "integer", (col) => col.notNull())
    .addColumn("started_at", "bigint", (col) => col.notNull())
    .addColumn("duration_ms", "integer", (col) => col.notNull())
    .addColumn("status_code", "integer")
    .addColumn("response_excerpt", "text")
    .addColumn("error", "text")
    .addColumn("succeeded", "integer", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("attempts_by_delivery").on("attempts").columns(["delivery_id", "attempt_number"]).execute();
}
