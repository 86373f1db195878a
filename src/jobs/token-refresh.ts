import type { AppContext } from "../domain/context.ts";
import { forgetExpiredLinkAttempts } from "../domain/redirect-link.ts";
import { refreshDueTokens } from "../domain/token-refresh.ts";
import { startPeriodicJob, type RunningJob } from "./periodic.ts";

/**
 * Refreshes linked connections' access tokens before they expire, every
 * HOOKLINE_TOKEN_REFRESH_INTERVAL, and forgets expired link attempts. Every
 * worker process starts it; one runs each interval's.
 */
export function startTokenRefreshJob(ctx: AppContext): RunningJob {
  const log = ctx.logger.child({ component: "worker" });
  return startPeriodicJob(ctx.store, ctx.clock, log, {
    name: "token-refresh",
    intervalMs: ctx.config.integrations.refreshIntervalMs,
    failureMessage: "refreshing access tokens failed; trying again at the next interval",
    run: async () => {
      const refreshed = await refreshDueTokens(ctx);
      if (refreshed > 0) log.info({ refreshed }, "refreshed access tokens about to expire");
      await forgetExpiredLinkAttempts(ctx);
    },
  });
}
