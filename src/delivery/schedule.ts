import type { DeliveryStatus } from "../storage/schema.ts";

/**
 * Where a delivery stands after its `attemptCount`-th attempt failed (or was
 * skipped): the first attempt is immediate and the n-th failure waits
 * `retryScheduleMs[n - 1]`; after the last entry the delivery has failed.
 */
export function afterFailure(retryScheduleMs: readonly number[], attemptCount: number, now: number): { status: DeliveryStatus; nextAttemptAt: number | null } {
  const delay = retryScheduleMs[attemptCount - 1];
  return delay === undefined ? { status: "Failure", nextAttemptAt: null } : { status: "Attempting", nextAttemptAt: now + delay };
}
