import { isoDate } from "../clock.ts";
import { badRequest } from "../errors.ts";
import type { ClientId, CompanyId, ConnectionId } from "../ids.ts";
import type { LinkError } from "./events/insight-events.ts";
import {
  bucketTime,
  connectionsNeedingAction,
  funnelFigures,
  mergeCounts,
  mergeFailures,
  type ErrorCount,
  type FunnelCounts,
  type FunnelGrouping,
  type TimeCount,
  type TimeWindow,
} from "../storage/link-funnels.ts";
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
  /** Linked, then deauthorized by their source; and linked again after a deauthorization or disconnection. */
  deauthorized: number;
  reconnected: number;
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

function parseGroupBy(text: string | undefined): FunnelGrouping {
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

/**
 * The time at `fraction` of the linked (nearest rank), to the bucket: the
 * middle of the time-to-link bucket that holds it; null for none.
 */
function percentile(times: readonly TimeCount[], fraction: number): number | null {
  const sorted = [...times].sort((a, b) => a.bucket - b.bucket);
  const total = sorted.reduce((sum, time) => sum + time.count, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(fraction * total));
  let seen = 0;
  for (const time of sorted) {
    seen += time.count;
    if (seen >= rank) return bucketTime(time.bucket);
  }
  return null;
}

function figures(counts: FunnelCounts, times: readonly TimeCount[], errors: readonly ErrorCount[]): FunnelFigures {
  const abandonedAt: Record<StoppedAt, number> = {
    opened: counts.abandonedOpened,
    chosen: counts.abandonedChosen,
    redirected: counts.abandonedRedirected,
    returned: counts.abandonedReturned,
  };
  return {
    created: counts.created,
    opened: counts.opened,
    linked: counts.linked,
    failed: counts.failed,
    deauthorized: counts.deauthorized,
    reconnected: counts.reconnected,
    abandoned: Object.values(abandonedAt).reduce((sum, count) => sum + count, 0),
    abandonedAt,
    conversionRate: counts.created === 0 ? null : Math.round((counts.linked / counts.created) * 10_000) / 10_000,
    medianTimeToLinkMs: percentile(times, 0.5),
    p90TimeToLinkMs: percentile(times, 0.9),
    topErrors: [...errors]
      .sort((a, b) => b.count - a.count || b.lastSeen - a.lastSeen)
      .slice(0, TOP_ERRORS)
      .map(({ statusCode, statusText, count, lastSeen }) => ({ statusCode, statusText, count, lastSeen: isoDate(lastSeen) })),
  };
}

const NO_JOURNEYS: FunnelCounts = {
  key: null,
  created: 0,
  opened: 0,
  linked: 0,
  failed: 0,
  deauthorized: 0,
  reconnected: 0,
  abandonedOpened: 0,
  abandonedChosen: 0,
  abandonedRedirected: 0,
  abandonedReturned: 0,
};

/** A group's key as the API shows it: a day as its date. */
const keyText = (grouping: FunnelGrouping, key: string | null) => (key !== null && grouping?.kind === "day" ? isoDate(Number(key)).slice(0, 10) : key);

/** The client's link funnel over connections created in the window, in all and per group. */
export async function connectionInsight(ctx: AppContext, clientId: ClientId, query: InsightQuery): Promise<ConnectionInsight> {
  const grouping = parseGroupBy(query.groupBy);
  const window = insightWindow(ctx, query);
  const abandonedBefore = ctx.clock.now() - ctx.config.insight.abandonAfterMs;
  const { counts, times, failures: errors } = await funnelFigures(ctx.store.db, clientId, window, grouping, abandonedBefore);
  const timesOf = bucket(times, (time) => time);
  const errorsOf = bucket(errors, (error) => error);
  // Every group as one: the key dropped, then the same error (or bucket) of several groups added up.
  const all = <T extends { key: string | null }>(items: readonly T[]) => items.map((item) => ({ ...item, key: null }));
  const groups = counts
    .map((group) => ({ text: keyText(grouping, group.key), group }))
    // By key, the connections without one (no tag, no error) last.
    .sort(({ text: a }, { text: b }) => (a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0));
  return {
    since: isoDate(window.since),
    until: isoDate(window.until),
    groupBy: query.groupBy ?? null,
    abandonAfterMs: ctx.config.insight.abandonAfterMs,
    total: figures(mergeCounts(all(counts))[0] ?? { ...NO_JOURNEYS }, all(times), mergeFailures(all(errors))),
    groups: grouping ? groups.map(({ text, group }) => ({ key: text, ...figures(group, timesOf.get(group.key) ?? [], errorsOf.get(group.key) ?? []) })) : [],
  };
}

/** `items` by their group's key, in their order. */
function bucket<T extends { key: string | null }, V>(items: readonly T[], value: (item: T) => V): Map<string | null, V[]> {
  const buckets = new Map<string | null, V[]>();
  for (const item of items) {
    const list = buckets.get(item.key) ?? [];
    list.push(value(item));
    buckets.set(item.key, list);
  }
  return buckets;
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

/** Why a deauthorized connection needs action, in the SMB's words, with what the integration said. */
export function deauthorizationInCustomerWords(platformName: string, statusCode: string, statusText: string): LinkError {
  return { statusCode, statusText, message: `${platformName} withdrew access to the data, so nothing is shared until the company links again.` };
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
      const platformName = ctx.integrations.nameOf(row.integrationKey);
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
        error:
          reason === "deauthorized"
            ? deauthorizationInCustomerWords(platformName, row.deauthorizedStatusCode ?? "", row.deauthorizedStatusText ?? "")
            : row.statusCode === null
              ? null
              : linkErrorInCustomerWords(platformName, row.statusCode, row.statusText ?? ""),
        linkUrl: linkUrl(ctx.config.publicUrl, row.companyId, row.connectionId, row.linkKey),
        remindedAt: row.remindedAt === null ? null : isoDate(Number(row.remindedAt)),
      };
    }),
  };
}
