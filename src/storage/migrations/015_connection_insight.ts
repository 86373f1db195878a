import type { Kysely } from "kysely";

// Connection insight: each connection's link journey, kept apart from the connection so that it outlives a deleted
// one and the figures of a past week do not change when connections are deleted.
export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per connection: when it first reached each step (and the latest failure, disconnection,
  // deauthorization, reconnection and reminder). The figures are read from these rows alone.
  await db.schema
    .createTable("link_funnels")
    .addColumn("connection_id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("company_id", "text", (col) => col.notNull())
    .addColumn("integration_key", "text", (col) => col.notNull())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addColumn("opened_at", "bigint")
    .addColumn("chosen_at", "bigint")
    .addColumn("redirected_at", "bigint")
    .addColumn("returned_at", "bigint")
    .addColumn("linked_at", "bigint")
    .addColumn("failed_at", "bigint")
    .addColumn("failures", "integer", (col) => col.notNull().defaultTo(0))
    .addColumn("error_status_code", "text")
    .addColumn("error_status_text", "text")
    .addColumn("error_message", "text")
    .addColumn("disconnected_at", "bigint")
    .addColumn("deauthorized_at", "bigint")
    .addColumn("reconnected_at", "bigint")
    .addColumn("reminded_at", "bigint")
    .execute();
  // The figures read one client's connections created in a range: from this index alone, which holds every column
  // they read. Rows created together are scattered across the table (a journey is written step by step), and
  // fetching each from the table cost a random page read per connection: 140 ms for a day of 14,000 on SQLite.
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
    ])
    .execute();
  // The attention list: one client's connections not linked.
  await db.schema.createIndex("link_funnels_unlinked").on("link_funnels").columns(["client_id", "linked_at", "opened_at"]).execute();

  // Every step as it happened, with the error of each failure: the top errors and the alert rules' windows.
  await db.schema
    .createTable("link_steps")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("connection_id", "text", (col) => col.notNull())
    .addColumn("integration_key", "text", (col) => col.notNull())
    .addColumn("step", "text", (col) => col.notNull())
    .addColumn("at", "bigint", (col) => col.notNull())
    .addColumn("status_code", "text")
    .addColumn("status_text", "text")
    .addColumn("error_message", "text")
    .execute();
  await db.schema.createIndex("link_steps_by_client_step").on("link_steps").columns(["client_id", "step", "at"]).execute();
  // A connection's failures with their errors, read from the index alone (the figures' top errors).
  await db.schema.createIndex("link_steps_by_connection").on("link_steps").columns(["connection_id", "step", "at", "status_code", "status_text"]).execute();

  // A link reminder gives the connection a new link URL: the key in it, which the link page checks. Null for
  // connections never reminded, whose link URL carries no key.
  await db.schema.alterTable("connections").addColumn("link_key", "text").execute();

  await db.schema
    .createTable("insight_alert_rules")
    .addColumn("id", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull().references("clients.id"))
    .addColumn("rule", "text", (col) => col.notNull())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("insight_alert_rules_by_client").on("insight_alert_rules").columns(["client_id", "created_at"]).execute();

  // An alert that holds: one row per rule and subject (an integration, or "*" for all) while its episode lasts,
  // so that each episode raises one alert and one resolution however many processes evaluate it.
  await db.schema
    .createTable("insight_alert_episodes")
    .addColumn("rule_id", "text", (col) => col.notNull().references("insight_alert_rules.id").onDelete("cascade"))
    .addColumn("subject", "text", (col) => col.notNull())
    .addColumn("client_id", "text", (col) => col.notNull())
    .addColumn("started_at", "bigint", (col) => col.notNull())
    .addPrimaryKeyConstraint("insight_alert_episodes_pk", ["rule_id", "subject"])
    .execute();
}
