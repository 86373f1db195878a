import type { Kysely } from "kysely";

// Keys every process of a deployment must share (the one that signs the link pages' form tokens), made on first use.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("server_keys")
    .addColumn("name", "text", (col) => col.primaryKey())
    .addColumn("value", "text", (col) => col.notNull())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .execute();
}
