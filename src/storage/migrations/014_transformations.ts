import type { Kysely } from "kysely";

// A consumer's transformation: its code, whether it runs, and a version that names each saved code, by which the
// sender caches what it compiled. Nullable and defaulted columns: existing consumers have none and pay nothing.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("consumers").addColumn("transformation_code", "text").execute();
  await db.schema
    .alterTable("consumers")
    .addColumn("transformation_enabled", "integer", (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable("consumers")
    .addColumn("transformation_version", "integer", (col) => col.notNull().defaultTo(0))
    .execute();
}
