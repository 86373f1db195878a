import type { Kysely } from "kysely";

// Per-consumer settings and delivery state. Portable schema builder only; SQLite adds one column per statement.
export async function up(db: Kysely<unknown>): Promise<void> {
  const consumerColumns: Array<[string, "text" | "integer" | "bigint"]> = [
    ["description", "text"],
    // Messages per second; null is unlimited.
    ["rate_limit", "integer"],
    // The next free send slot of a rate-limited consumer (epoch ms), shared by every worker.
    ["rate_next_at", "bigint"],
    // JSON [{ key, expiresAt }]: rotated-out signing secrets that still sign until they expire.
    ["previous_secrets", "text"],
    // JSON { name: value }: headers sent with every attempt.
    ["custom_headers", "text"],
    ["mtls_certificate", "text"],
    // The PEM private key, sealed with the operator's encryption key.
    ["mtls_private_key", "text"],
    // When the first failed attempt since the last success was made; null while the consumer succeeds.
    ["failing_since", "bigint"],
  ];
  for (const [name, type] of consumerColumns) await db.schema.alterTable("consumers").addColumn(name, type).execute();
  // The send slot a rate-limited delivery holds while it waits for it; null otherwise.
  await db.schema.alterTable("deliveries").addColumn("rate_slot_at", "bigint").execute();
}
