import type { ClientId, ConnectionId } from "../ids.ts";
import type { AccessGrant } from "../integrations/provider.ts";
import { deleteConnectionCredentials, upsertConnectionCredentials } from "../storage/connection-credentials.ts";
import { deleteConnectionTokens, upsertConnectionTokens } from "../storage/connection-tokens.ts";
import type { Tx } from "../storage/database.ts";
import type { AppContext } from "./context.ts";

/**
 * When a token is next refreshed: `HOOKLINE_TOKEN_REFRESH_AHEAD` before it
 * expires; never, without a refresh token or an expiry to go by.
 */
export function nextRefreshAt(ctx: AppContext, access: AccessGrant): number | null {
  if (access.refreshToken === null || access.expiresAt === null) return null;
  return access.expiresAt - ctx.config.integrations.refreshAheadMs;
}

/** Stores a connection's access, both tokens sealed and bound to the connection, replacing what it held. */
export async function storeAccess(ctx: AppContext, tx: Tx, clientId: ClientId, connectionId: ConnectionId, access: AccessGrant, now: number): Promise<void> {
  await upsertConnectionTokens(tx, {
    connection_id: connectionId,
    client_id: clientId,
    access_token: ctx.secretBox.seal(access.accessToken, "access-token", connectionId),
    refresh_token: access.refreshToken === null ? null : ctx.secretBox.seal(access.refreshToken, "refresh-token", connectionId),
    expires_at: access.expiresAt,
    refresh_failing_since: null,
    next_refresh_at: nextRefreshAt(ctx, access),
    updated_at: now,
  });
}

/** Stores the credentials a connection was linked with, sealed and bound to the connection, replacing those it held. */
export async function storeCredentials(
  ctx: AppContext,
  tx: Tx,
  clientId: ClientId,
  connectionId: ConnectionId,
  credentials: Record<string, string>,
  now: number,
): Promise<void> {
  await upsertConnectionCredentials(tx, {
    connection_id: connectionId,
    client_id: clientId,
    credentials: ctx.secretBox.seal(JSON.stringify(credentials), "connection-credentials", connectionId),
    updated_at: now,
  });
}

/** Forgets whatever access a connection held, tokens and credentials: it was unlinked, or its access revoked. */
export async function forgetAccess(tx: Tx, connectionId: ConnectionId): Promise<void> {
  await deleteConnectionTokens(tx, connectionId);
  await deleteConnectionCredentials(tx, connectionId);
}
