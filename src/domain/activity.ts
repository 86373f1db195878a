import { isoDate } from "../clock.ts";
import { badRequest } from "../errors.ts";
import type { ClientId, ConsumerId } from "../ids.ts";
import { countActivityHoursByBucket, HOUR_MS } from "../storage/activity-hours.ts";
import { clientBacklog, countAttemptsByBucket } from "../storage/portal-activity.ts";
import type { AppContext } from "./context.ts";

/**
 * The periods the activity page offers, each drawn in buckets small enough to show a burst and few enough to read.
 * Buckets of whole hours are summed from the hourly counts kept as attempts are recorded; shorter ones count the attempts.
 */
export const ACTIVITY_PERIODS = {
  "6h": { spanMs: 6 * HOUR_MS, bucketMs: 10 * 60_000 },
  "24h": { spanMs: 24 * HOUR_MS, bucketMs: HOUR_MS },
  "7d": { spanMs: 7 * 24 * HOUR_MS, bucketMs: 6 * HOUR_MS },
} as const;
export type ActivityPeriod = keyof typeof ACTIVITY_PERIODS;

export interface Activity {
  period: ActivityPeriod;
  /** Every bucket of the period, oldest first, in epoch seconds (as charts take them), with its successful and failed attempts. */
  series: { at: number[]; succeeded: number[]; failed: number[] };
  totals: { succeeded: number; failed: number };
  backlog: { pending: number; oldestPendingSince: string | null };
}

export function activityPeriod(text: string | undefined): ActivityPeriod {
  if (text === undefined) return "24h";
  if (text in ACTIVITY_PERIODS) return text as ActivityPeriod;
  const message = `period must be one of ${Object.keys(ACTIVITY_PERIODS).join(", ")}; got "${text}"`;
  throw badRequest(message, [{ itemId: "period", message, validatorName: "enum" }]);
}

/**
 * A client's attempts over the period, succeeded and failed, across its
 * consumers or `consumerIds` only, with the deliveries still waiting and the
 * oldest of them. Every bucket is listed, empty ones as zeros, so a chart
 * shows quiet hours as quiet.
 */
export async function clientActivity(ctx: AppContext, clientId: ClientId, period: ActivityPeriod, consumerIds?: readonly ConsumerId[]): Promise<Activity> {
  const { spanMs, bucketMs } = ACTIVITY_PERIODS[period];
  const now = ctx.clock.now();
  const first = Math.floor((now - spanMs) / bucketMs) * bucketMs + bucketMs;
  const [buckets, backlog] = await Promise.all([
    bucketMs % HOUR_MS === 0
      ? countActivityHoursByBucket(ctx.store.db, clientId, first, bucketMs, consumerIds)
      : countAttemptsByBucket(ctx.store.db, clientId, first, bucketMs, consumerIds),
    clientBacklog(ctx.store.db, clientId, consumerIds),
  ]);
  const byStart = new Map(buckets.map((bucket) => [bucket.at, bucket]));
  const series: Activity["series"] = { at: [], succeeded: [], failed: [] };
  for (let at = first; at <= now; at += bucketMs) {
    series.at.push(at / 1000);
    series.succeeded.push(byStart.get(at)?.succeeded ?? 0);
    series.failed.push(byStart.get(at)?.failed ?? 0);
  }
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  return {
    period,
    series,
    totals: { succeeded: sum(series.succeeded), failed: sum(series.failed) },
    backlog: { pending: backlog.pending, oldestPendingSince: backlog.oldestCreatedAt === null ? null : isoDate(backlog.oldestCreatedAt) },
  };
}
