import type { AppContext } from "../domain/context.ts";
import { purgeExpired } from "../domain/retention.ts";
import { startPeriodicJob, type RunningJob } from "./periodic.ts";

/** Purges what outlived its retention every `retentionIntervalMs`. Every worker process starts it; one runs each interval's. */
export function startRetentionJob(ctx: AppContext): RunningJob {
  const { store, clock, config } = ctx;
  const log = ctx.logger.child({ component: "worker" });
  return startPeriodicJob(store, clock, log, {
    name: "retention",
    intervalMs: config.messages.retentionIntervalMs,
    failureMessage: "purging expired payloads failed; trying again at the next interval",
    run: async () => {
      const purged = await purgeExpired(store, clock.now(), config);
      if (purged.payloads + purged.responseExcerpts + purged.idempotencyKeys > 0) {
        log.info({ ...purged, retentionMs: config.messages.payloadRetentionMs }, "purged expired message payloads, response excerpts and idempotency keys");
      }
    },
  });
}
