import type { Kysely } from "kysely";

// Example events, publish idempotency keys and per-client API quota counters. Portable column types only.
export async function up(db: Kysely<unknown>): Promise<void> {
  // Example events are messages like any other, marked so the logs can tell them apart.
  await db.schema
    .alterTable("messages")
    .addColumn("example", "integer", (col) => col.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable("idempotency_keys")
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("key", "text", (col) => col.notNull())
    .addColumn("request_hash", "text", (col) => col.notNull())
    .addColumn("response", "text")
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("idempotency_keys_pk", ["client_id", "key"])
    .execute();
  await db.schema.createIndex("idempotency_keys_by_age").on("idempotency_keys").columns(["client_id", "created_at"]).execute();

  // One row per client and quota window that saw a request; rows go once their window has ended.
  await db.schema
    .createTable("api_usage")
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("window_start", "bigint", (col) => col.notNull())
    .addColumn("window_end", "bigint", (col) => col.notNull())
    .addColumn("request_count", "integer", (col) => col.notNull())
    .addColumn("reached", "integer", (col) => col.notNull().defaultTo(0))
    .addPrimaryKeyConstraint("api_usage_pk", ["client_id", "window_start"])
    .execute();
  await db.schema.createIndex("api_usage_by_end").on("api_usage").column("window_end").execute();
}
