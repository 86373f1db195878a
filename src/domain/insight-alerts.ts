import { isoDate } from "../clock.ts";
import { MAX_ALERT_RULES } from "../constants/limits.ts";
import { parseDuration } from "../config.ts";
import { badRequest, conflict, notFound } from "../errors.ts";
import { newId, type ClientId, type InsightAlertId } from "../ids.ts";
import type { UnitOfWork } from "../storage/database.ts";
import * as alerts from "../storage/insight-alerts.ts";
import type { AlertMetric, AlertRule, AlertRuleRow } from "../storage/insight-alerts.ts";
import { stepCounts } from "../storage/link-funnels.ts";
import type { AppContext } from "./context.ts";
import { INSIGHT_ALERT, INSIGHT_RESOLVED, type AlertFigures, type InsightAlertPayload } from "./events/insight-events.ts";
import { recordEvent } from "./events/outbox.ts";

/**
 * Alert rules on a client's link funnel, evaluated by the insight alert job:
 * a rule that starts to hold raises `connection.insight.alert`, one that
 * stops holding `connection.insight.resolved`, once per episode (an episode
 * row per rule and subject, made and removed with its event in one
 * transaction).
 */

export const ALERT_METRICS: readonly AlertMetric[] = ["failureRate", "failures", "links", "deauthorizations"];
const MAX_WINDOW_MS = 30 * 24 * 3_600_000;
/** The subject of a rule over all of a client's connections. */
const ALL = "*";

export interface AlertRuleInput {
  name: string;
  metric: AlertMetric;
  above?: number;
  below?: number;
  window: string;
  minAttempts?: number;
  perIntegration?: boolean;
}

export interface AlertRuleResource {
  id: InsightAlertId;
  name: string;
  metric: AlertMetric;
  above?: number;
  below?: number;
  window: string;
  minAttempts: number;
  perIntegration: boolean;
  created: string;
  /** The subjects the rule holds for now: an integration key, or null for all connections. */
  firing: Array<{ integrationKey: string | null; since: string }>;
}

const invalid = (itemId: string, message: string) => badRequest(message, [{ itemId, message, validatorName: "rule" }]);

function parseRule(input: AlertRuleInput): AlertRule {
  if ((input.above === undefined) === (input.below === undefined)) throw invalid("above", "Give exactly one of above and below");
  const threshold = input.above ?? input.below!;
  if (input.metric === "failureRate" && (threshold < 0 || threshold > 1))
    throw invalid(input.above === undefined ? "below" : "above", "A failureRate threshold is a fraction between 0 and 1");
  let windowMs: number;
  try {
    windowMs = parseDuration(input.window);
  } catch {
    throw invalid("window", `window must be a duration such as 30m, 1h or 1d; got "${input.window}"`);
  }
  if (windowMs < 1000 || windowMs > MAX_WINDOW_MS) throw invalid("window", "window must be between 1s and 30d");
  return {
    name: input.name,
    metric: input.metric,
    ...(input.above === undefined ? {} : { above: input.above }),
    ...(input.below === undefined ? {} : { below: input.below }),
    window: input.window,
    windowMs,
    minAttempts: input.minAttempts ?? 0,
    perIntegration: input.perIntegration ?? false,
  };
}

function toResource(row: AlertRuleRow, episodes: Map<string, number>): AlertRuleResource {
  const { rule } = row;
  return {
    id: row.id,
    name: rule.name,
    metric: rule.metric,
    ...(rule.above === undefined ? {} : { above: rule.above }),
    ...(rule.below === undefined ? {} : { below: rule.below }),
    window: rule.window,
    minAttempts: rule.minAttempts,
    perIntegration: rule.perIntegration,
    created: isoDate(row.createdAt),
    firing: [...episodes].map(([subject, since]) => ({ integrationKey: subject === ALL ? null : subject, since: isoDate(since) })),
  };
}

export async function createAlertRule(ctx: AppContext, clientId: ClientId, input: AlertRuleInput): Promise<AlertRuleResource> {
  const rule = parseRule(input);
  const row: AlertRuleRow = { id: newId<InsightAlertId>(), clientId, rule, createdAt: ctx.clock.now() };
  await ctx.store.transaction(async (uow) => {
    if ((await alerts.countAlertRules(uow.tx, clientId)) >= MAX_ALERT_RULES)
      throw conflict(`A client has at most ${MAX_ALERT_RULES} alert rules: delete one first`);
    await alerts.insertAlertRule(uow.tx, row);
  });
  return toResource(row, new Map());
}

export async function listAlertRules(ctx: AppContext, clientId: ClientId): Promise<{ results: AlertRuleResource[] }> {
  const rows = await alerts.listAlertRules(ctx.store.db, clientId);
  return { results: await Promise.all(rows.map(async (row) => toResource(row, await alerts.openEpisodes(ctx.store.db, row.id)))) };
}

/** Deletes a rule; an episode it had open is resolved. 404 for an unknown or foreign id. */
export async function deleteAlertRule(ctx: AppContext, clientId: ClientId, id: InsightAlertId): Promise<void> {
  const rule = (await alerts.listAlertRules(ctx.store.db, clientId)).find((row) => row.id === id);
  if (!rule) throw notFound("Alert rule");
  const now = ctx.clock.now();
  const figures = await ruleFigures(ctx, rule, now);
  await ctx.store.transaction(async (uow) => {
    for (const [subject, startedAt] of await alerts.openEpisodes(uow.tx, id)) {
      if (await alerts.endEpisode(uow.tx, id, subject)) await recordAlertEvent(uow, rule, subject, figures.get(subject) ?? emptyFigures(), now, startedAt, now);
    }
    if (!(await alerts.deleteAlertRule(uow.tx, clientId, id))) throw notFound("Alert rule");
  });
}

const emptyFigures = (): AlertFigures => ({ attempts: 0, links: 0, failures: 0, deauthorizations: 0, failureRate: null });

/** The figures of the rule's window ending `now`, per subject: each integration with steps in it, or all connections. */
async function ruleFigures(ctx: AppContext, row: AlertRuleRow, now: number): Promise<Map<string, AlertFigures>> {
  const counts = await stepCounts(ctx.store.db, row.clientId, ["linked", "reconnected", "failed", "deauthorized"], {
    since: now - row.rule.windowMs,
    until: now,
  });
  const bySubject = new Map<string, AlertFigures>();
  if (!row.rule.perIntegration) bySubject.set(ALL, emptyFigures());
  for (const { integrationKey, step, count } of counts) {
    const subject = row.rule.perIntegration ? integrationKey : ALL;
    const figures = bySubject.get(subject) ?? emptyFigures();
    if (step === "failed") figures.failures += count;
    else if (step === "deauthorized") figures.deauthorizations += count;
    else figures.links += count;
    bySubject.set(subject, figures);
  }
  for (const figures of bySubject.values()) {
    figures.attempts = figures.links + figures.failures;
    figures.failureRate = figures.attempts === 0 ? null : Math.round((figures.failures / figures.attempts) * 10_000) / 10_000;
  }
  return bySubject;
}

const metricValue = (metric: AlertMetric, figures: AlertFigures): number | null => (metric === "failureRate" ? figures.failureRate : figures[metric]);

function holds(rule: AlertRule, figures: AlertFigures): boolean {
  const value = metricValue(rule.metric, figures);
  if (value === null || figures.attempts < rule.minAttempts) return false;
  return rule.above !== undefined ? value > rule.above : value < rule.below!;
}

async function recordAlertEvent(
  uow: UnitOfWork,
  row: AlertRuleRow,
  subject: string,
  figures: AlertFigures,
  now: number,
  raisedAt: number,
  resolvedAt: number | null,
): Promise<void> {
  const { rule } = row;
  const payload: InsightAlertPayload = {
    alertId: row.id,
    name: rule.name,
    integrationKey: subject === ALL ? null : subject,
    metric: rule.metric,
    threshold: rule.above === undefined ? { below: rule.below! } : { above: rule.above },
    value: metricValue(rule.metric, figures),
    figures,
    windowStart: isoDate(now - rule.windowMs),
    windowEnd: isoDate(now),
    raisedAt: isoDate(raisedAt),
    ...(resolvedAt === null ? {} : { resolvedAt: isoDate(resolvedAt) }),
  };
  await recordEvent(uow, {
    clientId: row.clientId,
    eventType: resolvedAt === null ? INSIGHT_ALERT : INSIGHT_RESOLVED,
    company: null,
    payload,
    generatedAt: now,
  });
}

/** Evaluates every client's rules once: raises the episodes that start, resolves those that end. Returns the events recorded. */
export async function evaluateAlertRules(ctx: AppContext): Promise<number> {
  let recorded = 0;
  for (const row of await alerts.allAlertRules(ctx.store.db)) {
    const now = ctx.clock.now();
    const [figures, open] = await Promise.all([ruleFigures(ctx, row, now), alerts.openEpisodes(ctx.store.db, row.id)]);
    for (const subject of new Set([...figures.keys(), ...open.keys()])) {
      const current = figures.get(subject) ?? emptyFigures();
      const holding = holds(row.rule, current);
      if (holding === open.has(subject)) continue;
      const changed = await ctx.store.transaction(async (uow) => {
        const moved = holding
          ? await alerts.startEpisode(uow.tx, { ruleId: row.id, clientId: row.clientId, subject, startedAt: now })
          : await alerts.endEpisode(uow.tx, row.id, subject);
        if (moved) await recordAlertEvent(uow, row, subject, current, now, holding ? now : open.get(subject)!, holding ? null : now);
        return moved;
      });
      if (changed) recorded++;
    }
  }
  return recorded;
}
