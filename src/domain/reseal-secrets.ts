import type { ConsumerId } from "../ids.ts";
import { isSealed, SEALED_PREFIX, type SecretBox, type SecretPurpose } from "../secret-box.ts";
import { resealed } from "../storage/consumers-codec.ts";
import type { Store } from "../storage/database.ts";
import {
  resealSealedTable,
  resealStoredSecrets,
  SEALED_TABLES,
  SECRET_COLUMNS,
  type SealedTable,
  type SecretColumn,
  type StoredSecrets,
} from "../storage/sealed-secrets.ts";

/**
 * What a re-seal rewrote: consumers' values per column and the other sealed
 * tables' values per table; and what no configured key opens (left as it
 * was): consumers by id, other rows as `table key`.
 */
export interface ResealReport {
  resealed: Record<SecretColumn, number>;
  resealedElsewhere: Record<SealedTable, number>;
  unreadable: ConsumerId[];
  unreadableElsewhere: string[];
}

const BATCH_SIZE = 500;

/**
 * Seals stored secrets again under the key that seals now: `plaintext`
 * seals only the consumers' values an earlier release stored in plaintext
 * (every start does it, so a database from that release keeps working and
 * its secrets are encrypted); `all` also re-seals every value sealed under
 * another key or in an older format, in every table that holds sealed
 * values (`hookline encryption rotate`): consumers' secrets, connections'
 * OAuth tokens and credentials, profiles' alert auth headers and the PKCE
 * verifiers of sign-ins in progress.
 */
export async function resealSecrets(store: Store, box: SecretBox, which: "plaintext" | "all"): Promise<ResealReport> {
  const report: ResealReport = {
    resealed: { signing_secret: 0, previous_secrets: 0, custom_headers: 0, mtls_private_key: 0 },
    resealedElsewhere: Object.fromEntries(Object.keys(SEALED_TABLES).map((table) => [table, 0])) as Record<SealedTable, number>,
    unreadable: [],
    unreadableElsewhere: [],
  };
  const stale = (value: string) => (which === "plaintext" ? !isSealed(value) : !box.sealsAsCurrent(value));
  await resealStoredSecrets(
    store,
    BATCH_SIZE,
    (row: StoredSecrets) => {
      const changes: Partial<Record<SecretColumn, string>> = {};
      for (const column of SECRET_COLUMNS) {
        const stored = row[column];
        if (stored === null || !stale(stored)) continue;
        try {
          changes[column] = resealed(box, column, row.id, stored);
          report.resealed[column]++;
        } catch {
          if (!report.unreadable.includes(row.id)) report.unreadable.push(row.id);
        }
      }
      return changes;
    },
    which === "plaintext" ? SEALED_PREFIX : undefined,
  );
  if (which === "plaintext") return report;
  for (const table of Object.keys(SEALED_TABLES) as SealedTable[]) {
    const purposes: Record<string, SecretPurpose> = SEALED_TABLES[table].columns;
    await resealSealedTable(store, BATCH_SIZE, table, (rowKey, column, stored) => {
      if (!stale(stored)) return undefined;
      const purpose = purposes[column]!;
      try {
        const value = box.seal(box.open(stored, purpose, rowKey), purpose, rowKey);
        report.resealedElsewhere[table]++;
        return value;
      } catch {
        const row = `${table} ${rowKey}`;
        if (!report.unreadableElsewhere.includes(row)) report.unreadableElsewhere.push(row);
        return undefined;
      }
    });
  }
  return report;
}
