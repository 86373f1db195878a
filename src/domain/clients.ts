import { createHash, randomBytes } from "node:crypto";
import type { components } from "../generated/codat.d.ts";
import { isoDate } from "../clock.ts";
import { notFound } from "../errors.ts";
import { newId, type ApiKeyId, type ClientId } from "../ids.ts";
import * as apiKeys from "../storage/api-keys.ts";
import * as clients from "../storage/clients.ts";
import type { AppContext } from "./context.ts";

export type { Client } from "../storage/clients.ts";
export type ApiKeyDetails = components["schemas"]["ApiKeyDetails"];

/** API keys are stored only as SHA-256 hashes; the key itself is shown once, when it is created. */
const hashKey = (apiKey: string) => createHash("sha256").update(apiKey).digest("hex");

export async function createClient(ctx: AppContext, name: string): Promise<clients.Client> {
  const client = { id: newId<ClientId>(), name };
  await clients.insertClient(ctx.store.db, { ...client, created_at: ctx.clock.now() });
  return client;
}

export function listClients(ctx: AppContext): Promise<clients.Client[]> {
  return clients.listClients(ctx.store.db);
}

export async function findClient(ctx: AppContext, clientId: ClientId): Promise<clients.Client> {
  const client = await clients.findClient(ctx.store.db, clientId);
  if (!client) throw notFound("Client");
  return client;
}

export async function createApiKey(ctx: AppContext, clientId: ClientId, name: string | null): Promise<ApiKeyDetails & { apiKey: string }> {
  const apiKey = randomBytes(30).toString("base64url");
  const row = { id: newId<ApiKeyId>(), client_id: clientId, name, key_hash: hashKey(apiKey), key_hint: apiKey.slice(-4), created_at: ctx.clock.now() };
  await apiKeys.insertApiKey(ctx.store.db, row);
  return { id: row.id, name, apiKey, createdDate: isoDate(row.created_at) };
}

/** Lists a client's keys; only the last four characters of each are shown. */
export async function listApiKeys(ctx: AppContext, clientId: ClientId): Promise<ApiKeyDetails[]> {
  const rows = await apiKeys.listApiKeys(ctx.store.db, clientId);
  return rows.map((row) => ({ id: row.id, name: row.name, apiKey: `****${row.key_hint}`, createdDate: isoDate(row.created_at) }));
}

export async function deleteApiKey(ctx: AppContext, clientId: ClientId, apiKeyId: ApiKeyId): Promise<void> {
  if (!(await apiKeys.deleteApiKey(ctx.store.db, clientId, apiKeyId))) throw notFound("API key");
}

/** The client an API key belongs to, or undefined for an unknown or revoked key. */
export function authenticate(ctx: AppContext, apiKey: string): Promise<clients.Client | undefined> {
  return apiKeys.findClientByKeyHash(ctx.store.db, hashKey(apiKey));
}

/** The key and its client, for a sign-in that must end when the key is deleted; undefined for an unknown or revoked key. */
export function authenticateKey(ctx: AppContext, apiKey: string): Promise<{ apiKeyId: ApiKeyId; client: clients.Client } | undefined> {
  return apiKeys.findKeyByHash(ctx.store.db, hashKey(apiKey));
}

/** Whether the client still has this key: a portal session signed in with a key ends when the key is deleted. */
export function apiKeyIsActive(ctx: AppContext, clientId: ClientId, apiKeyId: ApiKeyId): Promise<boolean> {
  return apiKeys.apiKeyExists(ctx.store.db, clientId, apiKeyId);
}
