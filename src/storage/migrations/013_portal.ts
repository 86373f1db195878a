import type { Kysely } from "kysely";

// The portal: its access links are single-use, and the activity page counts a client's attempts over time.
export async function up(db: Kysely<unknown>): Promise<void> {
  // An access link is signed, so nothing about it is stored until it is used: then its id is kept until it
  // expires, and a second use finds it here. Rows past their expiry are deleted by the next use of any link.
  await db.schema
    .createTable("portal_access_uses")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("expires_at", "bigint", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("portal_access_uses_by_expiry").on("portal_access_uses").column("expires_at").execute();

  // The activity page counts a client's attempts of the last hours or days; attempts have no index leading with
  // the client (the log finds them through their message). The consumer and the outcome are in the index too, so
  // the count reads the index alone: over a week of a million attempts on SQLite, 1.2 s instead of 2 s through the
  // table (docs/performance.md, "Portal pages").
  await db.schema.createIndex("attempts_by_client_time").on("attempts").columns(["client_id", "started_at", "consumer_id", "succeeded"]).execute();
}
