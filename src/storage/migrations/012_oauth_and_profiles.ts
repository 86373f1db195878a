import type { Kysely } from "kysely";

// The client profile (GET/PUT /profile), one row per client that set one. OAuth 2.0 integrations: one row per trip of a customer to a provider's sign-in (its state and PKCE verifier, until
// the callback uses it once), and the tokens of each linked connection. Portable schema builder.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("client_profiles")
    .addColumn("client_id", "text", (col) => col.primaryKey().references("clients.id"))
    .addColumn("name", "text", (col) => col.notNull())
    .addColumn("logo_url", "text")
    .addColumn("icon_url", "text")
    .addColumn("redirect_url", "text", (col) => col.notNull())
    // A JSON array of URLs.
    .addColumn("white_list_urls", "text", (col) => col.notNull())
    // Sealed (alert-auth-header, bound to the client).
    .addColumn("alert_auth_header", "text")
    .addColumn("updated_at", "bigint", (col) => col.notNull())
    .execute();

  await db.schema
    .createTable("link_attempts")
    // A digest of the state: the state itself travels in URLs and is never stored.
    .addColumn("state_digest", "text", (col) => col.primaryKey())
    .addColumn("client_id", "text", (col) => col.notNull().references("clients.id"))
    .addColumn("company_id", "text", (col) => col.notNull())
    .addColumn("connection_id", "text", (col) => col.notNull().references("connections.id").onDelete("cascade"))
    .addColumn("code_verifier", "text", (col) => col.notNull())
    // The link URL's query string, for the custom placeholders of the client's redirectUrl.
    .addColumn("link_query", "text", (col) => col.notNull())
    .addColumn("created_at", "bigint", (col) => col.notNull())
    .addColumn("expires_at", "bigint", (col) => col.notNull())
    .addColumn("used_at", "bigint")
    .execute();
  await db.schema.createIndex("link_attempts_by_expiry").on("link_attempts").column("expires_at").execute();

  await db.schema
    .createTable("connection_tokens")
    .addColumn("connection_id", "text", (col) => col.primaryKey().references("connections.id").onDelete("cascade"))
    .addColumn("client_id", "text", (col) => col.notNull().references("clients.id"))
    .addColumn("access_token", "text", (col) => col.notNull())
    .addColumn("refresh_token", "text")
    .addColumn("expires_at", "bigint")
    // Set from the first of a run of refreshes that failed for a passing reason, until one succeeds.
    .addColumn("refresh_failing_since", "bigint")
    .addColumn("next_refresh_at", "bigint")
    .addColumn("updated_at", "bigint", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("connection_tokens_by_next_refresh").on("connection_tokens").column("next_refresh_at").execute();
}
