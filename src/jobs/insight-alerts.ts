import type { AppContext } from "../domain/context.ts";
import { evaluateAlertRules } from "../domain/insight-alerts.ts";
import { startPeriodicJob, type RunningJob } from "./periodic.ts";

/** Evaluates the clients' connection insight alert rules every HOOKLINE_INSIGHT_ALERT_INTERVAL; one process runs each evaluation. */
export function startInsightAlertJob(ctx: AppContext): RunningJob {
  return startPeriodicJob(ctx.store, ctx.clock, ctx.logger, {
    name: "insight-alerts",
    intervalMs: ctx.config.insight.alertIntervalMs,
    failureMessage: "evaluating connection insight alert rules failed; trying again at the next interval",
    run: async () => {
      await evaluateAlertRules(ctx);
    },
  });
}
