import type { Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  // The credentials a connection of a credentials integration was linked with, sealed, for the operator's data engine.
  await db.schema
    .createTable("connection_credentials")
    .addColumn("connection_id", "text", (col) => col.primaryKey().references("connections.id").onDelete("cascade"))
    .addColumn("client_id", "text", (col) => col.notNull().references("clients.id"))
    .addColumn("credentials", "text", (col) => col.notNull())
    .addColumn("updated_at", "bigint", (col) => col.notNull())
    .execute();
  // The operator's data engine signs in with these (created by the CLI); stored as SHA-256 hashes, like clients' API keys.
  await db.schema
    .createTable("operator_tokens")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("token_hash", "text", (col) => col.notNull().unique())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .execute();
}
