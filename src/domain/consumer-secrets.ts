import { isSealed, SEALED_PREFIX, type SecretBox, type SecretPurpose } from "../secret-box.ts";
import { resealStoredSecrets, SECRET_COLUMNS, type SecretColumn, type StoredSecrets } from "../storage/sealed-secrets.ts";
import type { Store } from "../storage/database.ts";
import type { PreviousSecret } from "../storage/schema.ts";

/**
 * A consumer's secrets are sealed by the SecretBox, each bound to its
 * consumer and to its column's purpose. A stored value that is not sealed is
 * plaintext written by a release from before encryption at rest: it is read
 * as it is until it is sealed (at the next start, or by `hookline
 * encryption rotate`).
 */
const PURPOSES: Record<SecretColumn, SecretPurpose> = {
  signing_secret: "signing-secret",
  previous_secrets: "previous-secrets",
  custom_headers: "custom-headers",
  mtls_private_key: "mtls-private-key",
};

const DESCRIPTIONS: Record<SecretColumn, string> = {
  signing_secret: "signing secret",
  previous_secrets: "rotated-out signing secrets",
  custom_headers: "custom headers",
  mtls_private_key: "mTLS private key",
};

function opened(box: SecretBox, column: SecretColumn, consumerId: string, stored: string): string {
  if (!isSealed(stored)) return stored;
  try {
    return box.open(stored, PURPOSES[column], consumerId);
  } catch (error) {
    throw new Error(`The consumer's ${DESCRIPTIONS[column]} cannot be decrypted: ${(error as Error).message} (HOOKLINE_ENCRYPTION_KEY must list the key it was sealed with)`);
  }
}

export const openSigningSecret = (box: SecretBox, consumerId: string, stored: string): string => opened(box, "signing_secret", consumerId, stored);

export const sealSigningSecret = (box: SecretBox, consumerId: string, secret: string): string => box.seal(secret, PURPOSES.signing_secret, consumerId);

export const openPreviousSecrets = (box: SecretBox, consumerId: string, stored: string | null): PreviousSecret[] =>
  stored === null ? [] : (JSON.parse(opened(box, "previous_secrets", consumerId, stored)) as PreviousSecret[]);

/** Null for none, as stored. */
export const sealPreviousSecrets = (box: SecretBox, consumerId: string, secrets: readonly PreviousSecret[]): string | null =>
  secrets.length > 0 ? box.seal(JSON.stringify(secrets), PURPOSES.previous_secrets, consumerId) : null;

export const openCustomHeaders = (box: SecretBox, consumerId: string, stored: string | null): Record<string, string> =>
  stored === null ? {} : (JSON.parse(opened(box, "custom_headers", consumerId, stored)) as Record<string, string>);

/** Null for none, as stored. */
export const sealCustomHeaders = (box: SecretBox, consumerId: string, headers: Readonly<Record<string, string>>): string | null =>
  Object.keys(headers).length > 0 ? box.seal(JSON.stringify(headers), PURPOSES.custom_headers, consumerId) : null;

export const sealClientKey = (box: SecretBox, consumerId: string, privateKeyPem: string): string => box.seal(privateKeyPem, PURPOSES.mtls_private_key, consumerId);

/** What a re-seal rewrote: values per column, and the consumers with a value no configured key opens (left as they were). */
export interface ResealReport {
  resealed: Record<SecretColumn, number>;
  unreadable: string[];
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
          changes[column] = box.seal(opened(box, column, row.id, stored), PURPOSES[column], row.id);
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
