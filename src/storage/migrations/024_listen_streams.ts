import { sql, type Kysely } from "kysely";

// `hookline listen` reconnects: a listen consumer outlives a dropped stream, and goes when no stream has been open for
// HOOKLINE_LISTEN_GRACE. A listen consumer made before this release counts as last seen when it was made. Its newest
// stream is the one that takes its deliveries: one that died without closing takes nothing from the CLI's next.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("consumers").addColumn("listen_seen_at", "bigint").execute();
  await db.schema.alterTable("consumers").addColumn("listen_stream", "text").execute();
  await sql`UPDATE consumers SET listen_seen_at = created_at WHERE url LIKE 'listen:%'`.execute(db);
}
