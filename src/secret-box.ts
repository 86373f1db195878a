import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";

const CIPHER = "aes-256-gcm";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = "v2";

/** What a sealed value is for: part of what it is bound to, so a value copied into another column does not open there. */
export type SecretPurpose =
  | "signing-secret"
  | "previous-secrets"
  | "custom-headers"
  | "mtls-private-key"
  | "integration-client-secret"
  | "access-token"
  | "refresh-token"
  | "pkce-verifier"
  | "alert-auth-header"
  | "connection-credentials";

interface Key {
  id: string;
  bytes: Buffer;
}

/** A short name for a key, stored with each value it seals so the right key is tried; a digest, so it tells nothing of the key. */
const keyId = (bytes: Buffer) => createHash("sha256").update("hookline encryption key\0").update(bytes).digest("base64url").slice(0, 8);

/** How every value sealed in the current format starts. */
export const SEALED_PREFIX = `${VERSION}.`;

/** Whether a stored value is sealed; one that is not is plaintext written before secrets were encrypted at rest. */
export const isSealed = (value: string): boolean => value.startsWith(SEALED_PREFIX) || value.startsWith("v1.");

/**
 * Encrypts the secrets Hookline must store and later use as they were
 * (signing secrets, custom header values, mTLS private keys) with
 * AES-256-GCM under the operator's keys. The first key seals; every key
 * opens, so keys can be rotated while processes with the old list and the
 * new one run side by side. Each sealed value is bound to its record and
 * purpose (a consumer's signing secret, say): copied onto another record or
 * into another column, it does not open.
 */
export class SecretBox {
  private readonly keys: Key[];

  /** `base64Keys`: 32-byte keys in base64, the one that seals first. */
  constructor(base64Keys: readonly string[]) {
    if (base64Keys.length === 0) throw new Error("At least one encryption key is needed");
    this.keys = base64Keys.map((text) => {
      const bytes = Buffer.from(text, "base64");
      if (bytes.length !== 32) throw new Error("An encryption key must be 32 bytes");
      return { id: keyId(bytes), bytes };
    });
  }

  /** `v2.`, the sealing key's id, `.` and base64 of IV, authentication tag and ciphertext. */
  seal(plaintext: string, purpose: SecretPurpose, recordId: string): string {
    const key = this.keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, key.bytes, iv, { authTagLength: TAG_BYTES }).setAAD(boundTo(purpose, recordId));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `${SEALED_PREFIX}${key.id}.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString("base64")}`;
  }

  /** The plaintext; throws when no configured key sealed it, or it was sealed for another record or purpose, or altered. */
  open(sealed: string, purpose: SecretPurpose, recordId: string): string {
    const parts = sealed.split(".");
    if (parts[0] === VERSION && parts.length === 3) {
      const key = this.keys.find((candidate) => candidate.id === parts[1]);
      if (key === undefined) throw new Error("The value was sealed under an encryption key that is not configured");
      return decrypt(key.bytes, parts[2]!, boundTo(purpose, recordId));
    }
    // Sealed by an earlier release (only mTLS keys were), without a key id and bound to the record alone.
    if (parts[0] === "v1" && parts.length === 2 && purpose === "mtls-private-key") {
      for (const key of this.keys) {
        try {
          return decrypt(key.bytes, parts[1]!, Buffer.from(recordId, "utf8"));
        } catch {
          // Another key may have sealed it.
        }
      }
      throw new Error("The value was sealed under an encryption key that is not configured");
    }
    throw new Error("Unknown sealed value format");
  }

  /**
   * Keys for another use (`purpose`, e.g. signing the link pages' form
   * tokens) derived from the encryption keys, the current one's first: every
   * process of a deployment derives the same ones, and none is stored.
   */
  derivedKeys(purpose: string): Buffer[] {
    return this.keys.map((key) => Buffer.from(hkdfSync("sha256", key.bytes, Buffer.alloc(0), `hookline ${purpose}`, 32)));
  }

  /** Whether a stored value is sealed under the key that seals now, in the current format: sealing it again would change nothing. */
  sealsAsCurrent(value: string): boolean {
    return value.startsWith(`${SEALED_PREFIX}${this.keys[0]!.id}.`);
  }
}

const boundTo = (purpose: SecretPurpose, recordId: string) => Buffer.from(`${purpose}:${recordId}`, "utf8");

function decrypt(key: Buffer, payload: string, associatedData: Buffer): string {
  const bytes = Buffer.from(payload, "base64");
  // GCM verifies tags as short as 4 bytes, which are far easier to forge: only a whole tag is taken.
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error("The sealed value is too short");
  const decipher = createDecipheriv(CIPHER, key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES })
    .setAAD(associatedData)
    .setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
}
