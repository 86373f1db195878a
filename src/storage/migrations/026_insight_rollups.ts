import type { Kysely } from "kysely";
import type { Db } from "../dialect/index.ts";
import { rebuildLinkRollups } from "../link-funnels.ts";

// The connection insight figures read whole days and hours from roll-ups kept as steps are recorded, instead of
// counting every connection of the range: a week of a client with a million connections took seconds
// (docs/performance.md, "Connection insight with a million connections").
export async function up(db: Kysely<unknown>): Promise<void> {
  const group = (table: Parameters<Kysely<unknown>["schema"]["createTable"]>[0]) =>
    db.schema
      .createTable(table)
      .addColumn("client_id", "text", (col) => col.notNull())
      .addColumn("span", "bigint", (col) => col.notNull())
      .addColumn("start", "bigint", (col) => col.notNull())
      .addColumn("integration_key", "text", (col) => col.notNull())
      .addColumn("error_status_code", "text", (col) => col.notNull());
  const counts = [
    "created",
    "opened",
    "linked",
    "failed",
    "deauthorized",
    "reconnected",
    "stopped_opened",
    "stopped_chosen",
    "stopped_redirected",
    "stopped_returned",
  ];
  let days = group("link_rollups");
  for (const column of counts) days = days.addColumn(column, "bigint", (col) => col.notNull());
  await days.addPrimaryKeyConstraint("link_rollups_pk", ["client_id", "span", "start", "integration_key", "error_status_code"]).execute();
  await group("link_rollup_times")
    .addColumn("bucket", "integer", (col) => col.notNull())
    .addColumn("linked", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("link_rollup_times_pk", ["client_id", "span", "start", "integration_key", "error_status_code", "bucket"])
    .execute();
  await group("link_rollup_errors")
    .addColumn("status_code", "text", (col) => col.notNull())
    .addColumn("status_text", "text", (col) => col.notNull())
    .addColumn("failures", "bigint", (col) => col.notNull())
    .addColumn("last_seen", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("link_rollup_errors_pk", ["client_id", "span", "start", "integration_key", "error_status_code", "status_code", "status_text"])
    .execute();
  // The journeys still under way (opened within the abandon window, neither linked nor failed), which the figures take
  // off the roll-ups' abandoned, are counted from this index alone: a day of a busy client has tens of thousands, and
  // reading each one's row took over 100 ms at a million a week. The attention list reads it as it did (015).
  await db.schema.dropIndex("link_funnels_unlinked").execute();
  await db.schema
    .createIndex("link_funnels_unlinked")
    .on("link_funnels")
    .columns([
      "client_id",
      "linked_at",
      "opened_at",
      "failed_at",
      "created_at",
      "integration_key",
      "error_status_code",
      "chosen_at",
      "redirected_at",
      "returned_at",
    ])
    .execute();
  // The journeys already recorded, rolled up once.
  await rebuildLinkRollups(db as unknown as Db);
}
