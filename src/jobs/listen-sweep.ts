import type { AppContext } from "../domain/context.ts";
import { sweepAbandonedListenConsumers } from "../domain/listen.ts";
import { startPeriodicJob, type RunningJob } from "./periodic.ts";

/**
 * Removes `hookline listen` consumers that no stream has held for
 * HOOKLINE_LISTEN_GRACE (a CLI killed before it could delete its consumer),
 * looking every half of that grace. Every API process starts it (listen is
 * an API feature); one runs each interval's.
 */
export function startListenSweepJob(ctx: AppContext): RunningJob {
  const log = ctx.logger.child({ component: "listen" });
  return startPeriodicJob(ctx.store, ctx.clock, log, {
    name: "listen-sweep",
    intervalMs: Math.max(1, Math.floor(ctx.config.consumers.listenGraceMs / 2)),
    failureMessage: "removing abandoned listen consumers failed; trying again at the next interval",
    run: async () => {
      const removed = await sweepAbandonedListenConsumers(ctx);
      if (removed > 0) log.info({ removed }, "removed listen consumers whose CLI had no stream open for HOOKLINE_LISTEN_GRACE");
    },
  });
}
