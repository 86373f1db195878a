import { isSealed, type SecretBox, type SecretPurpose } from "../secret-box.ts";
import type { ConsumerId } from "../ids.ts";
import type { SecretColumn } from "./sealed-secrets.ts";
import type { ConsumersTable, PreviousSecret } from "./schema.ts";

// How a consumer's structured columns are stored: each is encoded and decoded here and nowhere else,
// by the API's reads and writes, the outbox's matching and the worker's batches alike.

export const encodeEventTypes = (eventTypes: readonly string[]): string => JSON.stringify(eventTypes);

export const decodeEventTypes = (stored: string): string[] => JSON.parse(stored) as string[];

/** Null for none (every company), as stored. */
export const encodeCompanyTags = (tags: readonly string[] | null | undefined): string | null => (tags && tags.length > 0 ? JSON.stringify(tags) : null);

export const decodeCompanyTags = (stored: string | null): string[] | null => (stored === null ? null : (JSON.parse(stored) as string[]));

/** What a consumer subscribes to: its event types, and the company tags that filter them (null for every company). */
export const decodeSubscription = (row: Pick<ConsumersTable, "event_types" | "company_tags">): { eventTypes: string[]; companyTags: string[] | null } => ({
  eventTypes: decodeEventTypes(row.event_types),
  companyTags: decodeCompanyTags(row.company_tags),
});

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

function opened(box: SecretBox, column: SecretColumn, consumerId: ConsumerId, stored: string): string {
  if (!isSealed(stored)) return stored;
  try {
    return box.open(stored, PURPOSES[column], consumerId);
  } catch (error) {
    throw new Error(
      `The consumer's ${DESCRIPTIONS[column]} cannot be decrypted: ${(error as Error).message} (HOOKLINE_ENCRYPTION_KEY must list the key it was sealed with)`,
    );
  }
}

export const openSigningSecret = (box: SecretBox, consumerId: ConsumerId, stored: string): string => opened(box, "signing_secret", consumerId, stored);

export const sealSigningSecret = (box: SecretBox, consumerId: ConsumerId, secret: string): string => box.seal(secret, PURPOSES.signing_secret, consumerId);

export const openPreviousSecrets = (box: SecretBox, consumerId: ConsumerId, stored: string | null): PreviousSecret[] =>
  stored === null ? [] : (JSON.parse(opened(box, "previous_secrets", consumerId, stored)) as PreviousSecret[]);

/** Null for none, as stored. */
export const sealPreviousSecrets = (box: SecretBox, consumerId: ConsumerId, secrets: readonly PreviousSecret[]): string | null =>
  secrets.length > 0 ? box.seal(JSON.stringify(secrets), PURPOSES.previous_secrets, consumerId) : null;

export const openCustomHeaders = (box: SecretBox, consumerId: ConsumerId, stored: string | null): Record<string, string> =>
  stored === null ? {} : (JSON.parse(opened(box, "custom_headers", consumerId, stored)) as Record<string, string>);

/** Null for none, as stored. */
export const sealCustomHeaders = (box: SecretBox, consumerId: ConsumerId, headers: Readonly<Record<string, string>>): string | null =>
  Object.keys(headers).length > 0 ? box.seal(JSON.stringify(headers), PURPOSES.custom_headers, consumerId) : null;

export const sealClientKey = (box: SecretBox, consumerId: ConsumerId, privateKeyPem: string): string =>
  box.seal(privateKeyPem, PURPOSES.mtls_private_key, consumerId);

/** A stored value sealed again under the key that seals now; throws when no configured key opens it. */
export const resealed = (box: SecretBox, column: SecretColumn, consumerId: ConsumerId, stored: string): string =>
  box.seal(opened(box, column, consumerId, stored), PURPOSES[column], consumerId);
