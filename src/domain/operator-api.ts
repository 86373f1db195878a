import { createHash, randomBytes } from "node:crypto";
import { isoDate } from "../clock.ts";
import { badRequest, conflict, notFound } from "../errors.ts";
import { newId, type CompanyId, type ConnectionId, type OperatorTokenId } from "../ids.ts";
import type { LinkFailure } from "../integrations/provider.ts";
import { findConnectionCredentials } from "../storage/connection-credentials.ts";
import { findConnectionTokens } from "../storage/connection-tokens.ts";
import * as connections from "../storage/connections.ts";
import { deleteOperatorToken, findOperatorTokenByHash, insertOperatorToken, listOperatorTokens } from "../storage/operator-tokens.ts";
import { deauthorizeConnection, type ConnectionResource } from "./connections.ts";
import type { AppContext } from "./context.ts";

/**
 * The operator API: what the operator's data engine (whatever syncs the
 * data) needs from Hookline, across every client. It signs in with an
 * operator token, never a client's API key.
 */

/** Operator tokens are stored only as SHA-256 hashes; a token is shown once, when the CLI creates it. */
const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");
/** Tells an operator token from a client's API key at a glance (in a secret scanner, say). */
const TOKEN_PREFIX = "hlop_";

/** An operator token's name says whose it is (the list shows only names and dates): it may not be blank. */
export async function createOperatorToken(ctx: AppContext, name: string): Promise<{ id: OperatorTokenId; name: string; token: string }> {
  if (name.trim() === "") throw badRequest("An operator token needs a name that says who uses it, such as the data engine's");
  const token = `${TOKEN_PREFIX}${randomBytes(30).toString("base64url")}`;
  const id = newId<OperatorTokenId>();
  await insertOperatorToken(ctx.store.db, { id, name, token_hash: hashToken(token), created_at: ctx.clock.now() });
  return { id, name, token };
}

/** The operator's tokens (id, name, when created); a token itself is never kept, so never listed. */
export async function listOperatorTokenRecords(ctx: AppContext): Promise<Array<{ id: OperatorTokenId; name: string; createdAt: string }>> {
  const rows = await listOperatorTokens(ctx.store.db);
  return rows.map((row) => ({ id: row.id, name: row.name, createdAt: isoDate(row.created_at) }));
}

/** Deletes the token: the next request signed with it is refused, since every request looks its token up. */
export async function revokeOperatorToken(ctx: AppContext, id: OperatorTokenId): Promise<void> {
  if (!(await deleteOperatorToken(ctx.store.db, id))) throw notFound("Operator token");
}

/** The operator token's id and name, or undefined for an unknown (or revoked) one. */
export function authenticateOperator(ctx: AppContext, token: string): Promise<{ id: OperatorTokenId; name: string } | undefined> {
  return findOperatorTokenByHash(ctx.store.db, hashToken(token));
}

/** What a Linked connection's source takes: an OAuth access token, or the credentials it was linked with. */
export type ConnectionAccess = {
  companyId: CompanyId;
  connectionId: ConnectionId;
  platformKey: string;
} & ({ kind: "oauth2"; accessToken: string; expiresAt: string | null } | { kind: "credentials"; credentials: Record<string, string> });

async function findOperatedConnection(ctx: AppContext, companyId: CompanyId, connectionId: ConnectionId) {
  const row = await connections.findLinkSession(ctx.store.db, companyId, connectionId);
  if (!row) throw notFound("Connection");
  return row;
}

/**
 * The connection's current access, opened: 404 for unknown ids, 409 when it
 * holds none (not Linked, or linked by an integration that keeps nothing).
 */
export async function connectionAccess(ctx: AppContext, companyId: CompanyId, connectionId: ConnectionId): Promise<ConnectionAccess> {
  const row = await findOperatedConnection(ctx, companyId, connectionId);
  if (row.status !== "Linked") throw conflict(`Connection is ${row.status}: it holds no access until the customer links it again`);
  const base = { companyId, connectionId, platformKey: row.integrationKey };
  const tokens = await findConnectionTokens(ctx.store.db, connectionId);
  if (tokens) {
    return {
      ...base,
      kind: "oauth2",
      accessToken: ctx.secretBox.open(tokens.access_token, "access-token", connectionId),
      expiresAt: tokens.expires_at === null ? null : new Date(tokens.expires_at).toISOString(),
    };
  }
  const credentials = await findConnectionCredentials(ctx.store.db, connectionId);
  if (credentials) {
    return { ...base, kind: "credentials", credentials: JSON.parse(ctx.secretBox.open(credentials.credentials, "connection-credentials", connectionId)) };
  }
  throw conflict(`Connection holds no access: its integration (${row.integrationKey}) keeps no tokens or credentials`);
}

/** The source refused the connection's access: Deauthorized with the source's status and message, and connection.disconnected. */
export async function reportRevokedAccess(
  ctx: AppContext,
  companyId: CompanyId,
  connectionId: ConnectionId,
  failure: LinkFailure,
): Promise<ConnectionResource> {
  const row = await findOperatedConnection(ctx, companyId, connectionId);
  if (row.status !== "Linked") throw conflict(`Connection is ${row.status}: only a Linked connection can be deauthorized`);
  return deauthorizeConnection(ctx, row.clientId, companyId, connectionId, failure);
}
