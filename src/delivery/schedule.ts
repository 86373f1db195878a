import type { DeliveryStatus } from "../storage/schema.ts";

/**
 * Where a delivery stands after its `attemptCount`-th attempt failed (or was
 * skipped): the first attempt is immediate and the n-th failure waits
 * `retryScheduleMs[n - 1]`; after the last entry the delivery has failed.
 * When the receiver asked to be tried again later (`askedDelayMs`, from its
 * Retry-After) the attempt waits that long instead if it is longer, up to the
 * schedule's longest step. It never waits less than the schedule says: a
 * receiver cannot use up a delivery's attempts faster than the schedule would.
 */
export function afterFailure(
  retryScheduleMs: readonly number[],
  attemptCount: number,
  now: number,
  askedDelayMs: number | null = null,
): { status: DeliveryStatus; nextAttemptAt: number | null } {
  const delay = retryScheduleMs[attemptCount - 1];
  if (delay === undefined) return { status: "Failure", nextAttemptAt: null };
  const asked = askedDelayMs === null ? 0 : Math.min(askedDelayMs, Math.max(...retryScheduleMs));
  return { status: "Attempting", nextAttemptAt: now + Math.max(delay, asked) };
}

const ASCTIME = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/;

/**
 * The delay a Retry-After header asks for at `now`: whole seconds, or an HTTP
 * date (RFC 9110 §10.2.3). Null when there is none or it cannot be read; a
 * date in the past asks for no delay.
 */
export function retryAfterDelayMs(header: string | null, now: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // IMF-fixdate and the obsolete RFC 850 form end in GMT; asctime's has no zone but means GMT too (Date.parse would read it as local time).
  const date = / GMT$/.test(value) ? value : ASCTIME.test(value) ? `${value} GMT` : null;
  if (date === null) return null;
  const at = Date.parse(date);
  return Number.isNaN(at) ? null : Math.max(at - now, 0);
}
