import type { Kysely } from "kysely";

// The credentials a connection of a credentials integration was linked with, sealed, for the operator's data engine.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("connection_credentials")
    .addColumn("connection_id", "text", (col) => col.primaryKey().references("connections.id").onDelete("cascade"))
    .addColumn("client_id", "text", (col) => col.notNull().references("clients.id"))
    .addColumn("credentials", "text", (col) => col.notNull())
    .addColumn("updated_at", "bigint", (col) => col.notNull())
    .execute();
}
