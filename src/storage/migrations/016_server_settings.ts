import type { Kysely } from "kysely";

// What a running server tells the other processes on its database, one row per setting: today the public URL the
// API serves at, which the CLI uses for links in what it writes when its own configuration does not say.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("server_settings")
    .addColumn("name", "text", (col) => col.primaryKey())
    .addColumn("value", "text", (col) => col.notNull())
    .addColumn("updated_at", "bigint", (col) => col.notNull())
    .execute();
}
