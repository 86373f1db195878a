import type { ClientId } from "../ids.ts";
import { isNotApplicable } from "../integrations/provider.ts";
import { postponeRefresh, replaceRefreshedTokens, tokensDueForRefresh } from "../storage/connection-tokens.ts";
import { nextRefreshAt } from "./connection-access.ts";
import { deauthorizeConnection } from "./connections.ts";
import type { AppContext } from "./context.ts";

/** Connections refreshed per run at most; the next run takes the rest. */
const REFRESH_BATCH = 100;
/** The longest wait after a passing failure: each wait is as long as refreshes have been failing (so it doubles), at least the job's interval. */
const LONGEST_RETRY_MS = 3_600_000;

/**
 * Refreshes the access tokens of Linked connections that expire within
 * HOOKLINE_TOKEN_REFRESH_AHEAD. A refresh token the provider refuses
 * (invalid_grant) deauthorizes the connection at once; a passing failure (a
 * 5xx, a timeout) is tried again with backoff, and deauthorizes it only once
 * refreshes have kept failing for HOOKLINE_TOKEN_REFRESH_GRACE. Returns how
 * many were refreshed.
 */
export async function refreshDueTokens(ctx: AppContext): Promise<number> {
  const { refreshGraceMs, refreshIntervalMs } = ctx.config.integrations;
  let refreshed = 0;
  for (const row of await tokensDueForRefresh(ctx.store.db, ctx.clock.now(), REFRESH_BATCH)) {
    const provider = ctx.integrations.get(row.integration_key);
    if (isNotApplicable(provider.refresh) || row.refresh_token === null) continue;
    const clientId: ClientId = row.client_id;
    const outcome = await provider.refresh(ctx.secretBox.open(row.refresh_token, "refresh-token", row.connection_id));
    const now = ctx.clock.now();
    if (outcome.kind === "refreshed") {
      const { access } = outcome;
      const updated = await ctx.store.transaction((uow) =>
        replaceRefreshedTokens(uow.tx, row, {
          connection_id: row.connection_id,
          client_id: clientId,
          access_token: ctx.secretBox.seal(access.accessToken, "access-token", row.connection_id),
          refresh_token: access.refreshToken === null ? null : ctx.secretBox.seal(access.refreshToken, "refresh-token", row.connection_id),
          expires_at: access.expiresAt,
          refresh_failing_since: null,
          next_refresh_at: nextRefreshAt(ctx, access),
          updated_at: Math.max(now, row.updated_at + 1),
        }),
      );
      if (updated) refreshed += 1;
      continue;
    }
    const failure = { statusCode: outcome.statusCode, statusText: outcome.statusText, errorMessage: outcome.errorMessage };
    const failingSince = row.refresh_failing_since ?? now;
    if (outcome.kind === "revoked" || now - failingSince >= refreshGraceMs) {
      await deauthorizeConnection(ctx, clientId, row.company_id, row.connection_id, failure);
      continue;
    }
    const wait = Math.min(Math.max(refreshIntervalMs, now - failingSince), LONGEST_RETRY_MS);
    ctx.logger.warn(
      { connectionId: row.connection_id, integration: row.integration_key, statusCode: failure.statusCode },
      "Refreshing an access token failed; trying again later",
    );
    await postponeRefresh(ctx.store.db, row.connection_id, failingSince, now + wait);
  }
  return refreshed;
}
