import { createHash, randomBytes } from "node:crypto";
import type { components } from "../generated/codat.d.ts";
import { isoDate } from "../clock.ts";
import { notFound } from "../errors.ts";
import type { DomainContext } from "./context.ts";
import { newId } from "../ids.ts";

export type ApiKeyDetails = components["schemas"]["ApiKeyDetails"];

export interface Client {
  id: string;
  name: string;
}

/** API keys are stored only as SHA-256 hashes; the key itself is shown once, when it is created. */
const hashKey = (apiKey: string) => createHash("sha256").update(apiKey).digest("hex");

export async function createClient(ctx: DomainContext, name: string): Promise<Client> {
  const client = { id: newId(), name };
  await ctx.store.db
    .insertInto("clients")
    .values({ ...client, created_at: ctx.clock.now() })
    .execute();
  return client;
}

export async function listClients(ctx: DomainContext): Promise<Client[]> {
  return ctx.store.db.selectFrom("clients").select(["id", "name"]).orderBy("created_at").execute();
}

export async function findClient(ctx: DomainContext, clientId: string): Promise<Client> {
  const client = await ctx.store.db.selectFrom("clients").select(["id", "name"]).where("id", "=", clientId).executeTakeFirst();
  if (!client) throw notFound("Client");
  return client;
}

export async function createApiKey(ctx: DomainContext, clientId: string, name: string | null): Promise<ApiKeyDetails & { apiKey: string }> {
  const apiKey = randomBytes(30).toString("base64url");
  const row = { id: newId(), client_id: clientId, name, key_hash: hashKey(apiKey), key_hint: apiKey.slice(-4), created_at: ctx.clock.now() };
  await ctx.store.db.insertInto("api_keys").values(row).execute();
  return { id: row.id, name, apiKey, createdDate: isoDate(row.created_at) };
}

/** Lists a client's keys; only the last four characters of each are shown. */
export async function listApiKeys(ctx: DomainContext, clientId: string): Promise<ApiKeyDetails[]> {
  const rows = await ctx.store.db.selectFrom("api_keys").selectAll().where("client_id", "=", clientId).orderBy("created_at").execute();
  return rows.map((row) => ({ id: row.id, name: row.name, apiKey: `****${row.key_hint}`, createdDate: isoDate(row.created_at) }));
}

export async function deleteApiKey(ctx: DomainContext, clientId: string, apiKeyId: string): Promise<void> {
  const result = await ctx.store.db.deleteFrom("api_keys").where("client_id", "=", clientId).where("id", "=", apiKeyId).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw notFound("API key");
}

/** The client an API key belongs to, or undefined for an unknown or revoked key. */
export async function authenticate(ctx: DomainContext, apiKey: string): Promise<Client | undefined> {
  return ctx.store.db
    .selectFrom("api_keys")
    .innerJoin("clients", "clients.id", "api_keys.client_id")
    .select(["clients.id", "clients.name"])
    .where("api_keys.key_hash", "=", hashKey(apiKey))
    .executeTakeFirst();
}
