import { sql } from "kysely";
import type { ClientId } from "../ids.ts";
import type { Tx } from "./database.ts";

/** The per-client request counts of the API quota, one row per client and window. */

export interface QuotaWindow {
  start: number;
  end: number;
}

/** Counts one request of the client in the window; returns the window's count with it. */
export async function countRequest(tx: Tx, clientId: ClientId, window: QuotaWindow): Promise<number> {
  const { request_count: count } = await tx
    .insertInto("api_usage")
    .values({ client_id: clientId, window_start: window.start, window_end: window.end, request_count: 1, reached: 0 })
    .onConflict((conflict) => conflict.columns(["client_id", "window_start"]).doUpdateSet({ request_count: sql<number>`api_usage.request_count + 1` }))
    .returning("request_count")
    .executeTakeFirstOrThrow();
  return count;
}

/** Notes that client.rateLimit.reached was recorded for the client's window, so that its end records a reset. */
export async function markQuotaReached(tx: Tx, clientId: ClientId, windowStart: number): Promise<void> {
  await tx.updateTable("api_usage").set({ reached: 1 }).where("client_id", "=", clientId).where("window_start", "=", windowStart).execute();
}

/**
 * Deletes the counts of windows that ended by `now` and returns the clients
 * that had reached their quota in one. The DELETE ... RETURNING hands each
 * ended window to exactly one transaction, however many run it at once.
 */
export async function takeEndedWindowsReached(tx: Tx, now: number): Promise<ClientId[]> {
  const ended = await tx.deleteFrom("api_usage").where("window_end", "<=", now).returning(["client_id", "reached"]).execute();
  return ended.filter((row) => row.reached === 1).map((row) => row.client_id);
}

/** The requests each of `clientIds` made in the window starting at `windowStart`; clients without any are left out. */
export async function requestCounts(tx: Tx, clientIds: readonly ClientId[], windowStart: number): Promise<Map<ClientId, number>> {
  const rows = await tx
    .selectFrom("api_usage")
    .select(["client_id", "request_count"])
    .where("client_id", "in", clientIds)
    .where("window_start", "=", windowStart)
    .execute();
  return new Map(rows.map((row) => [row.client_id, row.request_count]));
}
