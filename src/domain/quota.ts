import { intervalEndAfter, isoDate } from "../clock.ts";
import type { DailyQuotaConfig } from "../config.ts";
import type { ClientId } from "../ids.ts";
import { countRequest, markQuotaReached, requestCounts, takeEndedWindowsReached, type QuotaWindow } from "../storage/api-usage.ts";
import type { AppContext } from "./context.ts";
import { recordEvent } from "./events/outbox.ts";

/**
 * The per-client API quota. Requests are counted in the database, one upsert
 * per request, so every API process sharing it sees one count. Windows are
 * aligned to the epoch (a "1d" window is a UTC day).
 */
export interface QuotaUse {
  exceeded: boolean;
  /** When the current window ends and the count starts again. */
  windowEnd: number;
}

/** The quota window holding `now`. */
export function quotaWindowAt(now: number, windowMs: number): QuotaWindow {
  const end = intervalEndAfter(now, windowMs);
  return { start: end - windowMs, end };
}

/** Counts one request; the request that first goes beyond the quota records `client.rateLimit.reached` in the same transaction. */
export async function countApiRequest(ctx: AppContext, quota: DailyQuotaConfig, clientId: ClientId): Promise<QuotaUse> {
  const now = ctx.clock.now();
  const window = quotaWindowAt(now, quota.windowMs);
  return ctx.store.transaction(async (uow) => {
    const count = await countRequest(uow.tx, clientId, window);
    if (count === quota.limit + 1) {
      await markQuotaReached(uow.tx, clientId, window.start);
      await recordEvent(uow, {
        clientId,
        eventType: "client.rateLimit.reached",
        company: null,
        payload: { dailyQuota: quota.limit, quotaRemaining: 0, expiryDate: isoDate(window.end) },
        generatedAt: now,
      });
    }
    return { exceeded: count > quota.limit, windowEnd: window.end };
  });
}

/**
 * Drops the counts of windows that have ended and records
 * `client.rateLimit.reset` for each client that had reached its quota in one.
 * Each ended window goes to exactly one transaction, so several API processes
 * running this at the same boundary emit one reset.
 */
export async function emitQuotaResets(ctx: AppContext, quota: DailyQuotaConfig): Promise<number> {
  const now = ctx.clock.now();
  const window = quotaWindowAt(now, quota.windowMs);
  return ctx.store.transaction(async (uow) => {
    const reached = await takeEndedWindowsReached(uow.tx, now);
    if (reached.length === 0) return 0;
    const used = await requestCounts(uow.tx, reached, window.start);
    for (const clientId of reached) {
      await recordEvent(uow, {
        clientId,
        eventType: "client.rateLimit.reset",
        company: null,
        payload: { dailyQuota: quota.limit, quotaRemaining: Math.max(quota.limit - (used.get(clientId) ?? 0), 0), expiryDate: isoDate(window.end) },
        generatedAt: now,
      });
    }
    return reached.length;
  });
}
