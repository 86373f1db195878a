import type { DailyQuotaConfig } from "../config.ts";
import type { AppContext } from "../domain/context.ts";
import { emitQuotaResets } from "../domain/quota.ts";
import { startPeriodicJob, type RunningJob } from "./periodic.ts";

/**
 * Records the quota resets just after each window boundary, and at start for
 * windows that ended while no API process ran. Every API process starts it;
 * one runs each boundary's.
 */
export function startQuotaResetJob(ctx: AppContext, quota: DailyQuotaConfig): RunningJob {
  return startPeriodicJob(ctx.store, ctx.clock, ctx.logger, {
    name: "quota-reset",
    intervalMs: quota.windowMs,
    retryAfterMs: 1000,
    failureMessage: "recording quota resets failed; trying again in a second",
    run: async () => {
      await emitQuotaResets(ctx, quota);
    },
  });
}
