import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts secrets Hookline must store and later use as they were (mTLS
 * private keys) with AES-256-GCM under the operator's key. Each sealed value
 * is bound to the record it belongs to (`context`, e.g. the consumer id), so a
 * value copied onto another record does not open there.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(base64Key: string) {
    this.key = Buffer.from(base64Key, "base64");
    if (this.key.length !== 32) throw new Error("The encryption key must be 32 bytes");
  }

  /** `v1.` and base64 of IV, authentication tag and ciphertext. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv).setAAD(Buffer.from(context, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString("base64")}`;
  }

  /** The plaintext; throws when the value was sealed under another key or context, or was altered. */
  open(sealed: string, context: string): string {
    const [version, payload] = sealed.split(".", 2);
    if (version !== VERSION || payload === undefined) throw new Error("Unknown sealed value format");
    const bytes = Buffer.from(payload, "base64");
    const decipher = createDecipheriv("aes-256-gcm", this.key, bytes.subarray(0, IV_BYTES))
      .setAAD(Buffer.from(context, "utf8"))
      .setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
  }
}

/** The box for the configured key, or null when the operator has not set one. */
export const secretBoxFor = (base64Key: string | null): SecretBox | null => (base64Key === null ? null : new SecretBox(base64Key));
