import type { AppContext } from "../domain/context.ts";
import { releaseStrandedSlots } from "../storage/deliveries/park.ts";
import { startPeriodicJob, type RunningJob } from "./periodic.ts";

/**
 * Deliveries parked for a slow consumer's free slot are released by the
 * worker whose attempts free the slots. Should that worker stop first, its
 * attempts are taken over once their leases run out, and this releases what
 * still waits for a consumer with nothing in flight, once per lease time. It
 * also sends what a closed circuit still holds, should the release in steps
 * that followed the closing have stopped with its process.
 * Every worker process starts it; one runs each interval's.
 */
export function startSlotReleaseJob(ctx: AppContext): RunningJob {
  const { store, clock, config } = ctx;
  const log = ctx.logger.child({ component: "worker" });
  return startPeriodicJob(store, clock, log, {
    name: "slot-release",
    intervalMs: config.delivery.leaseMs,
    failureMessage: "releasing deliveries that waited for a stopped worker's slots failed; trying again at the next interval",
    run: async () => {
      const released = await store.writeStatement((db) => releaseStrandedSlots(db, clock.now(), config.delivery.leaseMs));
      if (released > 0) log.info({ released }, "released deliveries that waited for the slots of a worker that stopped");
    },
  });
}
