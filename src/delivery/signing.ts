import { createHmac } from "node:crypto";

const SECRET_PREFIX = "whsec_";

/**
 * The Standard Webhooks signature of one attempt: `v1,` and the base64
 * HMAC-SHA256 of `id.timestamp.body` under the secret's decoded bytes.
 */
export function signature(secret: string, messageId: string, timestampSeconds: number, body: string | Buffer): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64");
  // Fed in two parts: the body is never copied into a signed string (it may be hundreds of KB, for each consumer).
  return `v1,${createHmac("sha256", key).update(`${messageId}.${timestampSeconds}.`).update(body).digest("base64")}`;
}

/** The three Standard Webhooks headers; several valid secrets give space-separated signatures. */
export function signatureHeaders(secrets: readonly string[], messageId: string, timestampSeconds: number, body: string | Buffer): Record<string, string> {
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": secrets.map((secret) => signature(secret, messageId, timestampSeconds, body)).join(" "),
  };
}

/** The secrets that sign an attempt at `now`: the current one first, then rotated-out ones whose overlap has not ended. */
export function activeSecrets(current: string, previous: ReadonlyArray<{ key: string; expiresAt: number }> | null, now: number): string[] {
  if (previous === null) return [current];
  return [current, ...previous.filter((secret) => secret.expiresAt > now).map((secret) => secret.key)];
}
