import type { ClientId, InsightAlertId } from "../ids.ts";
import type { Db, Tx } from "./database.ts";

/** Clients' connection insight alert rules, and the episodes of those that hold. */

export type AlertMetric = "failureRate" | "failures" | "links" | "deauthorizations";

export interface AlertRule {
  name: string;
  metric: AlertMetric;
  /** The rule holds when the figure is above `above`, or below `below`: one of the two. */
  above?: number | undefined;
  below?: number | undefined;
  /** The window as the client wrote it (`1h`), and in milliseconds. */
  window: string;
  windowMs: number;
  /** Fewer link attempts (links and failures) than this in the window: the rule does not hold. */
  minAttempts: number;
  /** Each integration on its own, or all of the client's connections together. */
  perIntegration: boolean;
}

export interface AlertRuleRow {
  id: InsightAlertId;
  clientId: ClientId;
  rule: AlertRule;
  createdAt: number;
}

const decode = (row: { id: InsightAlertId; client_id: ClientId; rule: string; created_at: number }): AlertRuleRow => ({
  id: row.id,
  clientId: row.client_id,
  rule: JSON.parse(row.rule) as AlertRule,
  createdAt: Number(row.created_at),
});

export async function insertAlertRule(tx: Tx, row: AlertRuleRow): Promise<void> {
  await tx
    .insertInto("insight_alert_rules")
    .values({ id: row.id, client_id: row.clientId, rule: JSON.stringify(row.rule), created_at: row.createdAt })
    .execute();
}

export function countAlertRules(db: Db, clientId: ClientId): Promise<number> {
  return db
    .selectFrom("insight_alert_rules")
    .select((eb) => eb.fn.countAll<number | string>().as("count"))
    .where("client_id", "=", clientId)
    .executeTakeFirstOrThrow()
    .then((row) => Number(row.count));
}

/** The client's rules, oldest first. */
export async function listAlertRules(db: Db, clientId: ClientId): Promise<AlertRuleRow[]> {
  const rows = await db.selectFrom("insight_alert_rules").selectAll().where("client_id", "=", clientId).orderBy("created_at").orderBy("id").execute();
  return rows.map(decode);
}

/** Every client's rules: what the evaluation job goes through. */
export async function allAlertRules(db: Db): Promise<AlertRuleRow[]> {
  const rows = await db.selectFrom("insight_alert_rules").selectAll().orderBy("client_id").orderBy("created_at").execute();
  return rows.map(decode);
}

/** Deletes the client's rule with its episodes; false for an unknown or foreign id. */
export async function deleteAlertRule(tx: Tx, clientId: ClientId, id: InsightAlertId): Promise<boolean> {
  await tx.deleteFrom("insight_alert_episodes").where("rule_id", "=", id).where("client_id", "=", clientId).execute();
  const deleted = await tx.deleteFrom("insight_alert_rules").where("id", "=", id).where("client_id", "=", clientId).executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}

/** The subjects for which the rule holds, with when each episode started. */
export async function openEpisodes(db: Db, ruleId: InsightAlertId): Promise<Map<string, number>> {
  const rows = await db.selectFrom("insight_alert_episodes").select(["subject", "started_at"]).where("rule_id", "=", ruleId).execute();
  return new Map(rows.map((row) => [row.subject, Number(row.started_at)]));
}

/** Starts an episode; false when it had started already (another process got there first). */
export async function startEpisode(tx: Tx, row: { ruleId: InsightAlertId; clientId: ClientId; subject: string; startedAt: number }): Promise<boolean> {
  const inserted = await tx
    .insertInto("insight_alert_episodes")
    .values({ rule_id: row.ruleId, client_id: row.clientId, subject: row.subject, started_at: row.startedAt })
    .onConflict((conflict) => conflict.columns(["rule_id", "subject"]).doNothing())
    .returning("rule_id")
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Ends an episode; false when it had ended already. */
export async function endEpisode(tx: Tx, ruleId: InsightAlertId, subject: string): Promise<boolean> {
  const deleted = await tx.deleteFrom("insight_alert_episodes").where("rule_id", "=", ruleId).where("subject", "=", subject).executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}
