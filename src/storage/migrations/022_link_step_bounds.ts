import type { Kysely } from "kysely";

// Link steps get a retention, and the funnel counts the deauthorized and the reconnected.
export async function up(db: Kysely<unknown>): Promise<void> {
  // The retention job deletes the steps older than HOOKLINE_LINK_STEP_RETENTION, oldest first, from this index.
  await db.schema.createIndex("link_steps_by_time").on("link_steps").columns(["at"]).execute();
  // The figures are read from this index alone (see 015): it now holds the deauthorization and reconnection times too.
  await db.schema.dropIndex("link_funnels_by_client_created").execute();
  await db.schema
    .createIndex("link_funnels_by_client_created")
    .on("link_funnels")
    .columns([
      "client_id",
      "created_at",
      "integration_key",
      "linked_at",
      "failed_at",
      "opened_at",
      "chosen_at",
      "redirected_at",
      "returned_at",
      "error_status_code",
      "company_id",
      "connection_id",
      "deauthorized_at",
      "reconnected_at",
    ])
    .execute();
}
