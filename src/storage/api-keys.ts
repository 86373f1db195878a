import type { ApiKeyId, ClientId } from "../ids.ts";
import type { Client } from "./clients.ts";
import type { Db } from "./database.ts";
import type { ApiKeysTable } from "./schema.ts";

export async function insertApiKey(db: Db, row: ApiKeysTable): Promise<void> {
  await db.insertInto("api_keys").values(row).execute();
}

/** A client's keys, oldest first. */
export function listApiKeys(db: Db, clientId: ClientId): Promise<ApiKeysTable[]> {
  return db.selectFrom("api_keys").selectAll().where("client_id", "=", clientId).orderBy("created_at").execute();
}

/** Deletes one of a client's keys; false when it has no such key. */
export async function deleteApiKey(db: Db, clientId: ClientId, apiKeyId: ApiKeyId): Promise<boolean> {
  const result = await db.deleteFrom("api_keys").where("client_id", "=", clientId).where("id", "=", apiKeyId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The client whose key has this hash, or undefined when no key has it. */
export function findClientByKeyHash(db: Db, keyHash: string): Promise<Client | undefined> {
  return db
    .selectFrom("api_keys")
    .innerJoin("clients", "clients.id", "api_keys.client_id")
    .select(["clients.id", "clients.name"])
    .where("api_keys.key_hash", "=", keyHash)
    .executeTakeFirst();
}

/** The key with this hash and the client it belongs to, or undefined when no key has it. */
export function findKeyByHash(db: Db, keyHash: string): Promise<{ apiKeyId: ApiKeyId; client: Client } | undefined> {
  return db
    .selectFrom("api_keys")
    .innerJoin("clients", "clients.id", "api_keys.client_id")
    .select(["api_keys.id as apiKeyId", "clients.id", "clients.name"])
    .where("api_keys.key_hash", "=", keyHash)
    .executeTakeFirst()
    .then((row) => row && { apiKeyId: row.apiKeyId, client: { id: row.id, name: row.name } });
}

/** Whether the client still has this key. */
export async function apiKeyExists(db: Db, clientId: ClientId, apiKeyId: ApiKeyId): Promise<boolean> {
  return (await db.selectFrom("api_keys").select("id").where("client_id", "=", clientId).where("id", "=", apiKeyId).executeTakeFirst()) !== undefined;
}
