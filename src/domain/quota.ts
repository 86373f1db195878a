import { sql } from "kysely";
import type { Logger } from "pino";
import { isoDate } from "../clock.ts";
import type { DailyQuotaConfig } from "../config.ts";
import type { DomainContext } from "./context.ts";
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

const windowEndAfter = (now: number, windowMs: number) => now - (now % windowMs) + windowMs;

/** Counts one request; the request that first goes beyond the quota records `client.rateLimit.reached` in the same transaction. */
export async function countApiRequest(ctx: DomainContext, quota: DailyQuotaConfig, clientId: string): Promise<QuotaUse> {
  const now = ctx.clock.now();
  const windowEnd = windowEndAfter(now, quota.windowMs);
  const windowStart = windowEnd - quota.windowMs;
  return ctx.store.transaction(async ({ tx, wakeWorkers: wake }) => {
    const { request_count: count } = await tx
      .insertInto("api_usage")
      .values({ client_id: clientId, window_start: windowStart, window_end: windowEnd, request_count: 1, reached: 0 })
      .onConflict((conflict) => conflict.columns(["client_id", "window_start"]).doUpdateSet({ request_count: sql<number>`api_usage.request_count + 1` }))
      .returning("request_count")
      .executeTakeFirstOrThrow();
    if (count === quota.limit + 1) {
      await tx.updateTable("api_usage").set({ reached: 1 }).where("client_id", "=", clientId).where("window_start", "=", windowStart).execute();
      await recordEvent(tx, wake, {
        clientId,
        eventType: "client.rateLimit.reached",
        company: null,
        payload: { dailyQuota: quota.limit, quotaRemaining: 0, expiryDate: isoDate(windowEnd) },
        generatedAt: now,
      });
    }
    return { exceeded: count > quota.limit, windowEnd };
  });
}

/**
 * Drops the counts of windows that have ended and records
 * `client.rateLimit.reset` for each client that had reached its quota in one.
 * The DELETE ... RETURNING hands each ended window to exactly one caller, so
 * several API processes running this at the same boundary emit one reset.
 */
export async function emitQuotaResets(ctx: DomainContext, quota: DailyQuotaConfig): Promise<number> {
  const now = ctx.clock.now();
  const windowEnd = windowEndAfter(now, quota.windowMs);
  return ctx.store.transaction(async ({ tx, wakeWorkers: wake }) => {
    const ended = await tx.deleteFrom("api_usage").where("window_end", "<=", now).returning(["client_id", "reached"]).execute();
    const reached = ended.filter((row) => row.reached === 1).map((row) => row.client_id);
    if (reached.length === 0) return 0;
    const current = await tx
      .selectFrom("api_usage")
      .select(["client_id", "request_count"])
      .where("client_id", "in", reached)
      .where("window_start", "=", windowEnd - quota.windowMs)
      .execute();
    const used = new Map(current.map((row) => [row.client_id, row.request_count]));
    for (const clientId of reached) {
      await recordEvent(tx, wake, {
        clientId,
        eventType: "client.rateLimit.reset",
        company: null,
        payload: { dailyQuota: quota.limit, quotaRemaining: Math.max(quota.limit - (used.get(clientId) ?? 0), 0), expiryDate: isoDate(windowEnd) },
        generatedAt: now,
      });
    }
    return reached.length;
  });
}

/** Runs emitQuotaResets at start (for windows that ended while no process ran) and just after each window boundary. */
export function startQuotaResets(ctx: DomainContext, quota: DailyQuotaConfig, log: Logger): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = async (): Promise<void> => {
    let delay: number;
    try {
      await emitQuotaResets(ctx, quota);
      const now = ctx.clock.now();
      // Capped: timers cannot wait beyond 24.8 days, and an early run finds nothing to reset.
      delay = Math.min(windowEndAfter(now, quota.windowMs) - now + 5, 3_600_000);
    } catch (error) {
      log.error({ err: error }, "recording quota resets failed; trying again in a second");
      delay = 1000;
    }
    if (!stopped) {
      timer = setTimeout(() => (running = run()), delay);
      timer.unref();
    }
  };
  let running = run();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
