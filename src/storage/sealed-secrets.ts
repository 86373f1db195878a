import { sql, type Kysely } from "kysely";
import type { ConsumerId } from "../ids.ts";
import type { SecretPurpose } from "../secret-box.ts";
import type { Store } from "./database.ts";
import type { ConsumersTable } from "./schema.ts";

/** The columns of a consumer that hold its secrets, sealed (or, written by an earlier release, in plaintext). */
export const SECRET_COLUMNS = ["signing_secret", "previous_secrets", "custom_headers", "mtls_private_key"] as const;
export type SecretColumn = (typeof SECRET_COLUMNS)[number];
export type StoredSecrets = Pick<ConsumersTable, "id" | SecretColumn>;

/**
 * Rewrites consumers' stored secrets in batches of `batchSize`, in id order,
 * one transaction each: `reseal` gets each row, locked (PostgreSQL
 * `FOR UPDATE`, SQLite's write lock) so a change through the API waits for
 * it, and returns the columns to rewrite. With `unlessAllStartWith`, only
 * rows where some secret column does not start with that prefix are read.
 */
export async function resealStoredSecrets(
  store: Store,
  batchSize: number,
  reseal: (row: StoredSecrets) => Partial<Pick<ConsumersTable, SecretColumn>>,
  unlessAllStartWith?: string,
): Promise<void> {
  for (let after: ConsumerId | null = null; ;) {
    const last = await store.transaction(async ({ tx }) => {
      let query = tx
        .selectFrom("consumers")
        .select(["id", ...SECRET_COLUMNS])
        .orderBy("id")
        .limit(batchSize);
      if (after !== null) query = query.where("id", ">", after);
      if (unlessAllStartWith !== undefined) {
        const pattern = `${unlessAllStartWith.replace(/[\\%_]/g, "\\$&")}%`;
        query = query.where((eb) => eb.or(SECRET_COLUMNS.map((column) => sql<boolean>`${sql.ref(column)} NOT LIKE ${pattern} ESCAPE '\\'`)));
      }
      query = store.dialect.lockRows(query);
      const rows = await query.execute();
      for (const row of rows) {
        const changes = reseal(row);
        if (Object.keys(changes).length > 0) await tx.updateTable("consumers").set(changes).where("id", "=", row.id).execute();
      }
      return rows.length === batchSize ? rows[rows.length - 1]!.id : null;
    });
    if (last === null) return;
    after = last;
  }
}

/**
 * The other tables that hold sealed values, each value bound to the row's key
 * column and to its purpose. They came after encryption at rest, so they
 * never hold plaintext; only a key rotation re-seals them. (An OAuth
 * integration's client secret is sealed in the integrations file, not here.)
 */
export const SEALED_TABLES = {
  connection_tokens: { key: "connection_id", columns: { access_token: "access-token", refresh_token: "refresh-token" } },
  connection_credentials: { key: "connection_id", columns: { credentials: "connection-credentials" } },
  client_profiles: { key: "client_id", columns: { alert_auth_header: "alert-auth-header" } },
  link_attempts: { key: "state_digest", columns: { code_verifier: "pkce-verifier" } },
} as const satisfies Record<string, { key: string; columns: Record<string, SecretPurpose> }>;
export type SealedTable = keyof typeof SEALED_TABLES;

/** Every sealed table as one shape: its key column and sealed columns as strings (the rows hold strings or null there). */
type AnySealedTable = Kysely<Record<string, Record<string, string | null>>>;

/**
 * Rewrites one table's sealed values in batches of `batchSize`, in key
 * order, one transaction each, its rows locked like consumers' are: `reseal`
 * gets each sealed value with its row's key and returns the value to store
 * instead, or undefined to leave it.
 */
export async function resealSealedTable(
  store: Store,
  batchSize: number,
  table: SealedTable,
  reseal: (rowKey: string, column: string, stored: string) => string | undefined,
): Promise<void> {
  const { key, columns } = SEALED_TABLES[table];
  const sealedColumns = Object.keys(columns);
  for (let after: string | null = null; ;) {
    const last: string | null = await store.transaction(async ({ tx }) => {
      const db = tx as unknown as AnySealedTable;
      let query = db
        .selectFrom(table)
        .select([key, ...sealedColumns])
        .orderBy(key)
        .limit(batchSize);
      if (after !== null) query = query.where(key, ">", after);
      const rows = await store.dialect.lockRows(query).execute();
      for (const row of rows) {
        const changes: Record<string, string> = {};
        for (const column of sealedColumns) {
          const stored = row[column];
          const value = stored === null || stored === undefined ? undefined : reseal(String(row[key]), column, stored);
          if (value !== undefined) changes[column] = value;
        }
        if (Object.keys(changes).length > 0) await db.updateTable(table).set(changes).where(key, "=", row[key]!).execute();
      }
      return rows.length === batchSize ? String(rows[rows.length - 1]![key]) : null;
    });
    if (last === null) return;
    after = last;
  }
}
