import type { AppContext } from "../domain/context.ts";
import { purgeExpired } from "../domain/retention.ts";
import { startPeriodicJob, type RunningJob } from "./periodic.ts";

/**
 * Deletes and purges what outlived its retention every `retentionIntervalMs`,
 * then gives the space of what it deleted back to the file system where the
 * database does so (SQLite). Every worker process starts it; one runs each interval's.
 */
export function startRetentionJob(ctx: AppContext): RunningJob {
  const { store, clock, config } = ctx;
  const log = ctx.logger.child({ component: "worker" });
  return startPeriodicJob(store, clock, log, {
    name: "retention",
    intervalMs: config.messages.retentionIntervalMs,
    failureMessage: "deleting expired messages and purging expired payloads failed; trying again at the next interval",
    run: async () => {
      const { deleted, linkSteps, ...purged } = await purgeExpired(store, clock.now(), config);
      if (linkSteps > 0) log.info({ linkSteps, retentionMs: config.insight.stepRetentionMs }, "deleted expired link steps");
      if (deleted.messages + deleted.activityHours > 0) {
        log.info({ ...deleted, retentionMs: config.messages.messageRetentionMs }, "deleted expired messages with their deliveries and attempts");
      }
      if (purged.payloads + purged.responseExcerpts + purged.idempotencyKeys > 0) {
        log.info({ ...purged, retentionMs: config.messages.payloadRetentionMs }, "purged expired message payloads, response excerpts and idempotency keys");
      }
      if (deleted.messages + linkSteps + purged.payloads + purged.responseExcerpts + purged.idempotencyKeys > 0) {
        const releasedBytes = await store.releaseFreeSpace();
        if (releasedBytes > 0) log.info({ releasedBytes }, "gave the space of deleted rows back to the file system");
      }
    },
  });
}
