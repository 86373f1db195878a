import type { ConsumerId } from "../ids.ts";
import { isSealed, SEALED_PREFIX, type SecretBox } from "../secret-box.ts";
import { resealed } from "../storage/consumers-codec.ts";
import type { Store } from "../storage/database.ts";
import { resealStoredSecrets, SECRET_COLUMNS, type SecretColumn, type StoredSecrets } from "../storage/sealed-secrets.ts";

/** What a re-seal rewrote: values per column, and the consumers with a value no configured key opens (left as they were). */
export interface ResealReport {
  resealed: Record<SecretColumn, number>;
  unreadable: ConsumerId[];
}

const BATCH_SIZE = 500;

/**
 * Seals consumers' secrets again under the key that seals now: `plaintext`
 * seals only the values an earlier release stored in plaintext (every start
 * does it, so a database from that release keeps working and its secrets
 * are encrypted); `all` also re-seals every value sealed under another key
 * or in an older format (`hookline encryption rotate`).
 */
export async function resealSecrets(store: Store, box: SecretBox, which: "plaintext" | "all"): Promise<ResealReport> {
  const report: ResealReport = { resealed: { signing_secret: 0, previous_secrets: 0, custom_headers: 0, mtls_private_key: 0 }, unreadable: [] };
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
  return report;
}
