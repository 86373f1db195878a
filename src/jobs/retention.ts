import type { Logger } from "pino";
import type { Clock } from "../clock.ts";
import { purgeExpired, type RetentionSettings } from "../domain/retention.ts";
import type { Store } from "../storage/database.ts";
import { startPeriodicJob, type RunningJob } from "./periodic.ts";

/** Purges what outlived its retention every `retentionIntervalMs`. Every worker process starts it; one runs each interval's. */
export function startRetentionJob(store: Store, settings: RetentionSettings, clock: Clock, log: Logger): RunningJob {
  return startPeriodicJob(store, clock, log, {
    name: "retention",
    intervalMs: settings.messages.retentionIntervalMs,
    failureMessage: "purging expired payloads failed; trying again at the next interval",
    run: async () => {
      const purged = await purgeExpired(store, clock.now(), settings);
      if (purged.payloads + purged.responseExcerpts + purged.idempotencyKeys > 0) {
        log.info({ ...purged, retentionMs: settings.messages.payloadRetentionMs }, "purged expired message payloads, response excerpts and idempotency keys");
      }
    },
  });
}
