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
  // The journeys already recorded, rolled up once.
  await rebuildLinkRollups(db as unknown as Db);
}
