import type { ClientId } from "../ids.ts";
import type { Tx } from "./database.ts";

/** Forgets the client's keys made at or before `expiredAt`. */
export async function deleteExpiredIdempotencyKeys(tx: Tx, clientId: ClientId, expiredAt: number): Promise<void> {
  await tx.deleteFrom("idempotency_keys").where("client_id", "=", clientId).where("created_at", "<=", expiredAt).execute();
}

/**
 * Takes a key for a request, its response still to come; false when the
 * client holds the key already. On PostgreSQL a concurrent insert of the same
 * key waits until the first commits.
 */
export async function insertIdempotencyKey(tx: Tx, clientId: ClientId, key: string, requestHash: string, now: number): Promise<boolean> {
  const claimed = await tx
    .insertInto("idempotency_keys")
    .values({ client_id: clientId, key, request_hash: requestHash, response: null, created_at: now })
    .onConflict((conflict) => conflict.columns(["client_id", "key"]).doNothing())
    .returning("key")
    .executeTakeFirst();
  return claimed !== undefined;
}

/** The request a key was first used with, and its response (null while that request's transaction runs). */
export function findIdempotencyKey(tx: Tx, clientId: ClientId, key: string) {
  return tx
    .selectFrom("idempotency_keys")
    .select(["request_hash", "response"])
    .where("client_id", "=", clientId)
    .where("key", "=", key)
    .executeTakeFirstOrThrow();
}

export async function setIdempotentResponse(tx: Tx, clientId: ClientId, key: string, response: string): Promise<void> {
  await tx.updateTable("idempotency_keys").set({ response }).where("client_id", "=", clientId).where("key", "=", key).execute();
}
