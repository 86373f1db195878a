import { createHash } from "node:crypto";
import { badRequest, HooklineError } from "../../errors.ts";
import type { ClientId } from "../../ids.ts";
import type { Tx } from "../../storage/database.ts";
import { deleteExpiredIdempotencyKeys, findIdempotencyKey, insertIdempotencyKey, setIdempotentResponse } from "../../storage/idempotency-keys.ts";

/** An `Idempotency-Key` as sent with a request, and a fingerprint of that request to tell a retry from a different request. */
export interface IdempotencyKey {
  key: string;
  fingerprint: string;
  /** How long the key is remembered. */
  ttlMs: number;
}

const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

/** Checks the header and fingerprints the request it came with (its operation and JSON body). */
export function idempotencyKey(key: string, operation: string, body: unknown, ttlMs: number): IdempotencyKey {
  if (!KEY_FORMAT.test(key)) {
    throw badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters", [
      { itemId: "headers/idempotency-key", message: "1 to 255 visible ASCII characters", validatorName: "pattern" },
    ]);
  }
  return { key, fingerprint: createHash("sha256").update(operation).update("\n").update(JSON.stringify(body)).digest("hex"), ttlMs };
}

/**
 * Claims the key inside the transaction that does the work. Answers the
 * response first recorded under it (the work is then not done again), or null
 * when the key is new. On PostgreSQL a concurrent request with the same key
 * waits on the insert until the first commits, then sees its response.
 */
export async function claimIdempotencyKey(tx: Tx, clientId: ClientId, key: IdempotencyKey, now: number): Promise<string | null> {
  await deleteExpiredIdempotencyKeys(tx, clientId, now - key.ttlMs);
  if (await insertIdempotencyKey(tx, clientId, key.key, key.fingerprint, now)) return null;
  const earlier = await findIdempotencyKey(tx, clientId, key.key);
  if (earlier.request_hash !== key.fingerprint) {
    throw new HooklineError(422, "This Idempotency-Key was already used with a different request; use a new key for a new request");
  }
  // Only a transaction still running can hold a key without its response.
  if (earlier.response === null) throw new HooklineError(409, "A request with this Idempotency-Key is still in progress", [], "Yes");
  return earlier.response;
}

export async function recordIdempotentResponse(tx: Tx, clientId: ClientId, key: IdempotencyKey, response: string): Promise<void> {
  await setIdempotentResponse(tx, clientId, key.key, response);
}
