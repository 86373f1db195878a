import { isoDate } from "../clock.ts";
import { badRequest } from "../errors.ts";
import type { ClientId, CompanyId, ConnectionId } from "../ids.ts";
import type { LinkError } from "./events/insight-events.ts";
import { getIntegration } from "../integrations/registry.ts";
import { connectionsNeedingAction, failuresOfCreatedIn, funnelsCreatedIn, type FunnelRow, type TimeWindow } from "../storage/link-funnels.ts";
import { linkUrl } from "./connections.ts";
import type { AppContext } from "./context.ts";
import { parseTimeRange } from "./time-range.ts";

/**
 * Connection insight: the link funnel of a client's connections (how many
 * were created, opened, linked, failed or abandoned, and how long linking
 * took), its top errors, and the connections that need action now.
 */

/** Without `since`, the figures cover the week before `until`. */
const DEFAULT_RANGE_MS = 7 * 24 * 3_600_000;
const TOP_ERRORS = 5;
const MAX_TAG_KEY_LENGTH = 100;

/** Where a journey that was neither linked nor failed stopped: the furthest step it reached. */
export const STOPPED_AT = ["returned", "redirected", "chosen", "opened"] as const;
export type StoppedAt = (typeof STOPPED_AT)[number];

export type GroupBy = { kind: "integration" | "errorCode" | "day" } | { kind: "tag"; key: string };

export interface InsightQuery {
  since?: string | undefined;
  until?: string | undefined;
  groupBy?: string | undefined;
}

export interface TopError {
  statusCode: string;
  statusText: string;
  count: number;
  lastSeen: string;
}

export interface FunnelFigures {
  created: number;
  opened: number;
  linked: number;
  failed: number;
  abandoned: number;
  abandonedAt: Record<StoppedAt, number>;
  /** linked / created; null for no connections. */
  conversionRate: number | null;
  medianTimeToLinkMs: number | null;
  p90TimeToLinkMs: number | null;
  topErrors: TopError[];
}

export interface ConnectionInsight {
  since: string;
  until: string;
  groupBy: string | null;
  abandonAfterMs: number;
  total: FunnelFigures;
  groups: Array<{ key: string | null } & FunnelFigures>;
}

function parseGroupBy(text: string | undefined): GroupBy | null {
  if (text === undefined) return null;
  if (text === "integration" || text === "errorCode" || text === "day") return { kind: text };
  if (text.startsWith("tag:") && text.length > 4 && text.length <= 4 + MAX_TAG_KEY_LENGTH) return { kind: "tag", key: text.slice(4) };
  const message = `groupBy must be integration, errorCode, day or tag:<key> (a key of at most ${MAX_TAG_KEY_LENGTH} characters); got "${text}"`;
  throw badRequest(message, [{ itemId: "groupBy", message, validatorName: "enum" }]);
}

/** The window of connections the figures cover: created at or after `since` and before `until` (now by default). */
function insightWindow(ctx: AppContext, query: InsightQuery): TimeWindow {
  const range = parseTimeRange(query);
  const until = range.until ?? Math.max(ctx.clock.now(), (range.since ?? 0) + 1);
  return { since: range.since ?? until - DEFAULT_RANGE_MS, until };
}

const groupKey = (groupBy: GroupBy | null, row: FunnelRow): string | null => {
  switch (groupBy?.kind) {
    case undefined:
      return null;
    case "integration":
      return row.integration_key;
    case "errorCode":
      return row.error_status_code;
    case "day":
      return isoDate(Number(row.created_at)).slice(0, 10);
    case "tag":
      return row.tag;
  }
};

/** The value at `fraction` of sorted `values` (nearest rank); null for none. */
function percentile(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)]!;
}

type Failure = { statusCode: string; statusText: string; at: number };

/** Where a journey stands: linked, failed, abandoned (at the furthest step it reached), or still going. */
function journeyState(row: FunnelRow, abandonedBefore: number): "linked" | "failed" | StoppedAt | "pending" {
  if (row.linked_at !== null) return "linked";
  if (row.failed_at !== null) return "failed";
  if (row.opened_at === null || Number(row.opened_at) >= abandonedBefore) return "pending";
  if (row.returned_at !== null) return "returned";
  if (row.redirected_at !== null) return "redirected";
  return row.chosen_at !== null ? "chosen" : "opened";
}

function figures(rows: readonly FunnelRow[], failures: readonly Failure[], abandonedBefore: number): FunnelFigures {
  const abandonedAt: Record<StoppedAt, number> = { opened: 0, chosen: 0, redirected: 0, returned: 0 };
  let linked = 0;
  let failed = 0;
  const timesToLink: number[] = [];
  for (const row of rows) {
    const state = journeyState(row, abandonedBefore);
    if (state === "linked") {
      linked++;
      timesToLink.push(Number(row.linked_at) - Number(row.created_at));
    } else if (state === "failed") failed++;
    else if (state !== "pending") abandonedAt[state]++;
  }
  timesToLink.sort((a, b) => a - b);
  const errors = new Map<string, { statusCode: string; statusText: string; count: number; lastSeen: number }>();
  for (const failure of failures) {
    const key = JSON.stringify([failure.statusCode, failure.statusText]);
    const error = errors.get(key) ?? { statusCode: failure.statusCode, statusText: failure.statusText, count: 0, lastSeen: 0 };
    error.count++;
    error.lastSeen = Math.max(error.lastSeen, failure.at);
    errors.set(key, error);
  }
  return {
    created: rows.length,
    opened: rows.filter((row) => row.opened_at !== null).length,
    linked,
    failed,
    abandoned: Object.values(abandonedAt).reduce((sum, count) => sum + count, 0),
    abandonedAt,
    conversionRate: rows.length === 0 ? null : Math.round((linked / rows.length) * 10_000) / 10_000,
    medianTimeToLinkMs: percentile(timesToLink, 0.5),
    p90TimeToLinkMs: percentile(timesToLink, 0.9),
    topErrors: [...errors.values()]
      .sort((a, b) => b.count - a.count || b.lastSeen - a.lastSeen)
      .slice(0, TOP_ERRORS)
      .map((error) => ({ ...error, lastSeen: isoDate(error.lastSeen) })),
  };
}

/** The client's link funnel over connections created in the window, in all and per group. */
export async function connectionInsight(ctx: AppContext, clientId: ClientId, query: InsightQuery): Promise<ConnectionInsight> {
  const groupBy = parseGroupBy(query.groupBy);
  const window = insightWindow(ctx, query);
  const abandonedBefore = ctx.clock.now() - ctx.config.insight.abandonAfterMs;
  const db = ctx.store.db;
  const [rows, failureRows] = await Promise.all([
    funnelsCreatedIn(db, clientId, window, groupBy?.kind === "tag" ? groupBy.key : null),
    failuresOfCreatedIn(db, clientId, window),
  ]);
  const byConnection = new Map(rows.map((row) => [row.connection_id, row]));
  const groups = new Map<string | null, { rows: FunnelRow[]; failures: Failure[] }>();
  const groupOf = (key: string | null) => groups.get(key) ?? groups.set(key, { rows: [], failures: [] }).get(key)!;
  for (const row of rows) groupOf(groupKey(groupBy, row)).rows.push(row);
  const failures: Failure[] = [];
  for (const step of failureRows) {
    const failure = { statusCode: step.status_code ?? "", statusText: step.status_text ?? "", at: Number(step.at) };
    failures.push(failure);
    const row = byConnection.get(step.connection_id);
    if (row) groupOf(groupKey(groupBy, row)).failures.push(failure);
  }
  return {
    since: isoDate(window.since),
    until: isoDate(window.until),
    groupBy: query.groupBy ?? null,
    abandonAfterMs: ctx.config.insight.abandonAfterMs,
    total: figures(rows, failures, abandonedBefore),
    groups: groupBy
      ? [...groups.entries()]
          // By key, the connections without one (no tag, no error) last.
          .sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0))
          .map(([key, group]) => ({ key, ...figures(group.rows, group.failures, abandonedBefore) }))
      : [],
  };
}

/** Known errors in the SMB's words; others say what the integration said. */
const CUSTOMER_WORDS: Record<string, string> = {
  "401": "The sign-in details were not accepted.",
  "403": "Linking was cancelled on the consent screen, so nothing was shared.",
};

/** What went wrong with a link, in the words the SMB would use. */
export function linkErrorInCustomerWords(platformName: string, statusCode: string, statusText: string): LinkError {
  const message = CUSTOMER_WORDS[statusCode] ?? `${platformName} did not link the data (${statusText}), so nothing was shared.`;
  return { statusCode, statusText, message };
}

export type AttentionReason = "failed" | "deauthorized" | "abandoned";

export interface AttentionItem {
  companyId: CompanyId;
  companyName: string;
  connectionId: ConnectionId;
  integrationKey: string;
  platformName: string;
  reason: AttentionReason;
  /** When it came to need action: the failure, the deauthorization, or the opening of the link page that was abandoned. */
  since: string;
  /** For an abandoned link, the furthest step the SMB reached. */
  stoppedAt: StoppedAt | null;
  error: LinkError | null;
  linkUrl: string;
  remindedAt: string | null;
}

/** The client's connections that need action now, newest first: failed and never linked, deauthorized, abandoned. */
export async function connectionsNeedingAttention(ctx: AppContext, clientId: ClientId, limit: number): Promise<{ results: AttentionItem[] }> {
  const abandonedBefore = ctx.clock.now() - ctx.config.insight.abandonAfterMs;
  const rows = await connectionsNeedingAction(ctx.store.db, clientId, abandonedBefore, limit);
  return {
    results: rows.map((row) => {
      const platformName = getIntegration(row.integrationKey).name;
      const reason: AttentionReason = row.status === "Deauthorized" ? "deauthorized" : row.failedAt !== null ? "failed" : "abandoned";
      const stoppedAt =
        reason !== "abandoned"
          ? null
          : row.returnedAt !== null
            ? "returned"
            : row.redirectedAt !== null
              ? "redirected"
              : row.chosenAt !== null
                ? "chosen"
                : "opened";
      return {
        companyId: row.companyId,
        companyName: row.companyName,
        connectionId: row.connectionId,
        integrationKey: row.integrationKey,
        platformName,
        reason,
        since: isoDate(Number(row.since)),
        stoppedAt,
        error: row.statusCode === null ? null : linkErrorInCustomerWords(platformName, row.statusCode, row.statusText ?? ""),
        linkUrl: linkUrl(ctx.config.publicUrl, row.companyId, row.connectionId, row.linkKey),
        remindedAt: row.remindedAt === null ? null : isoDate(Number(row.remindedAt)),
      };
    }),
  };
}
