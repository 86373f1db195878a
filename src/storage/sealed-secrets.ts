import { sql } from "kysely";
import type { ConsumerId } from "../ids.ts";
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
