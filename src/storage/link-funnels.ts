import { sql } from "kysely";
import type { ClientId, CompanyId, ConnectionId } from "../ids.ts";
import { newId } from "../ids.ts";
import type { Db, Store } from "./database.ts";
import type { LinkStep } from "./schema.ts";

/**
 * Connections' link journeys: one summary row per connection (`link_funnels`)
 * and every step as it happened (`link_steps`).
 */

export interface StepError {
  statusCode: string;
  statusText: string;
  errorMessage: string;
}

export interface StepRecord {
  clientId: ClientId;
  companyId: CompanyId;
  connectionId: ConnectionId;
  integrationKey: string;
  /** When the connection was created: the start of its journey, whichever step is recorded first. */
  createdAt: number;
  step: LinkStep;
  at: number;
  error?: StepError | undefined;
  /** The step's id: a new one by default; a step recorded again with the id of one already kept is not recorded twice. */
  id?: string | undefined;
}

/** Steps whose first time the summary keeps; the others (failed aside) keep their latest. */
const FIRST_TIME = { opened: "opened_at", chosen: "chosen_at", redirected: "redirected_at", returned: "returned_at", linked: "linked_at" } as const;
const LATEST = { disconnected: "disconnected_at", deauthorized: "deauthorized_at", reconnected: "reconnected_at", reminded: "reminded_at" } as const;

/**
 * Records one step: the step row, and the connection's summary made or
 * brought up to date, in one transaction. A step whose id is already kept
 * changes nothing.
 */
export async function recordStep(store: Store, record: StepRecord): Promise<void> {
  const { step, at, error } = record;
  await store.transaction(async ({ tx }) => {
    const inserted = await tx
      .insertInto("link_steps")
      .values({
        id: record.id ?? newId(),
        client_id: record.clientId,
        connection_id: record.connectionId,
        integration_key: record.integrationKey,
        step,
        at,
        status_code: error?.statusCode ?? null,
        status_text: error?.statusText ?? null,
        error_message: error?.errorMessage ?? null,
      })
      .onConflict((conflict) => conflict.column("id").doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return;
    const failed =
      step === "failed"
        ? {
            failed_at: at,
            error_status_code: error?.statusCode ?? null,
            error_status_text: error?.statusText ?? null,
            error_message: error?.errorMessage ?? null,
          }
        : {};
    const firstTime = step in FIRST_TIME ? { [FIRST_TIME[step as keyof typeof FIRST_TIME]]: at } : {};
    const latestTime = step in LATEST ? { [LATEST[step as keyof typeof LATEST]]: at } : {};
    await tx
      .insertInto("link_funnels")
      .values({
        connection_id: record.connectionId,
        client_id: record.clientId,
        company_id: record.companyId,
        integration_key: record.integrationKey,
        created_at: record.createdAt,
        failures: step === "failed" ? 1 : 0,
        ...failed,
        ...firstTime,
        ...latestTime,
      })
      .onConflict((conflict) => {
        // Steps are written in the background and may arrive out of order: the earliest of a first time, the latest
        // of a recurring step (with the error of the latest failure) win, whichever is written last.
        const kept = (column: string) => sql.ref(`link_funnels.${column}`);
        const given = (column: string) => sql.ref(`excluded.${column}`);
        const earliest = (column: string) =>
          sql<number>`CASE WHEN ${kept(column)} IS NULL OR ${given(column)} < ${kept(column)} THEN ${given(column)} ELSE ${kept(column)} END`;
        const newer = (column: string) => sql`${kept(column)} IS NULL OR ${given(column)} >= ${kept(column)}`;
        const latest = <T = number>(column: string, by = column) => sql<T>`CASE WHEN ${newer(by)} THEN ${given(column)} ELSE ${kept(column)} END`;
        if (step === "failed") {
          return conflict.column("connection_id").doUpdateSet((eb) => ({
            failed_at: latest("failed_at"),
            error_status_code: latest<string | null>("error_status_code", "failed_at"),
            error_status_text: latest<string | null>("error_status_text", "failed_at"),
            error_message: latest<string | null>("error_message", "failed_at"),
            failures: eb("link_funnels.failures", "+", 1),
          }));
        }
        if (step in FIRST_TIME) {
          const column = FIRST_TIME[step as keyof typeof FIRST_TIME];
          return conflict.column("connection_id").doUpdateSet({ [column]: earliest(column) });
        }
        if (step in LATEST) {
          const column = LATEST[step as keyof typeof LATEST];
          return conflict.column("connection_id").doUpdateSet({ [column]: latest(column) });
        }
        return conflict.column("connection_id").doNothing();
      })
      .execute();
  });
}

export interface TimeWindow {
  since: number;
  until: number;
}

/** How the figures are grouped: by a column of the journey, the UTC day it started, or a company tag's value. */
export type FunnelGrouping = { kind: "integration" | "errorCode" | "day" } | { kind: "tag"; key: string } | null;

const DAY_MS = 86_400_000;

/** The group of each journey (the day as its midnight, epoch ms); one group of all without a grouping. */
function groupKey(grouping: FunnelGrouping) {
  switch (grouping?.kind) {
    case undefined:
      return sql<string | null>`null`;
    case "integration":
      return sql<string | null>`link_funnels.integration_key`;
    case "errorCode":
      return sql<string | null>`link_funnels.error_status_code`;
    case "day":
      return sql<string | null>`link_funnels.created_at - (link_funnels.created_at % ${sql.lit(DAY_MS)})`;
    case "tag":
      return sql<string | null>`company_tags.value`;
  }
}

/** The client's journeys that started in the window, with their company's tag when grouped by one. */
function journeysIn(db: Db, clientId: ClientId, window: TimeWindow, grouping: FunnelGrouping) {
  const query = db
    .selectFrom("link_funnels")
    .where("link_funnels.client_id", "=", clientId)
    .where("link_funnels.created_at", ">=", window.since)
    .where("link_funnels.created_at", "<", window.until);
  if (grouping?.kind !== "tag") return query;
  return query.leftJoin("company_tags", (join) =>
    join.onRef("company_tags.company_id", "=", "link_funnels.company_id").on("company_tags.client_id", "=", clientId).on("company_tags.key", "=", grouping.key),
  );
}

export interface FunnelCounts {
  key: string | null;
  created: number;
  opened: number;
  linked: number;
  failed: number;
  deauthorized: number;
  reconnected: number;
  abandonedOpened: number;
  abandonedChosen: number;
  abandonedRedirected: number;
  abandonedReturned: number;
}

/**
 * Counts the journeys that started in the window, per group: counted by the
 * database from the covering index, so a day of a busy client costs no row
 * read and no object per connection. A journey opened before
 * `abandonedBefore` that neither linked nor failed is abandoned, at the
 * furthest step it reached.
 */
export async function funnelCounts(db: Db, clientId: ClientId, window: TimeWindow, grouping: FunnelGrouping, abandonedBefore: number): Promise<FunnelCounts[]> {
  const stopped = sql`link_funnels.linked_at IS NULL AND link_funnels.failed_at IS NULL AND link_funnels.opened_at < ${abandonedBefore}`;
  const count = (condition: ReturnType<typeof sql>) => sql<number | string>`SUM(CASE WHEN ${condition} THEN 1 ELSE 0 END)`;
  const key = groupKey(grouping);
  const rows = await journeysIn(db, clientId, window, grouping)
    .select([
      key.as("key"),
      sql<number | string>`COUNT(*)`.as("created"),
      count(sql`link_funnels.opened_at IS NOT NULL`).as("opened"),
      count(sql`link_funnels.linked_at IS NOT NULL`).as("linked"),
      count(sql`link_funnels.linked_at IS NULL AND link_funnels.failed_at IS NOT NULL`).as("failed"),
      count(sql`link_funnels.deauthorized_at IS NOT NULL`).as("deauthorized"),
      count(sql`link_funnels.reconnected_at IS NOT NULL`).as("reconnected"),
      count(sql`${stopped} AND link_funnels.returned_at IS NOT NULL`).as("abandonedReturned"),
      count(sql`${stopped} AND link_funnels.returned_at IS NULL AND link_funnels.redirected_at IS NOT NULL`).as("abandonedRedirected"),
      count(sql`${stopped} AND link_funnels.returned_at IS NULL AND link_funnels.redirected_at IS NULL AND link_funnels.chosen_at IS NOT NULL`).as(
        "abandonedChosen",
      ),
      count(sql`${stopped} AND link_funnels.returned_at IS NULL AND link_funnels.redirected_at IS NULL AND link_funnels.chosen_at IS NULL`).as(
        "abandonedOpened",
      ),
    ])
    // By the first column, the key: PostgreSQL takes neither a constant nor an expression with parameters there.
    .$if(grouping !== null, (query) => query.groupBy(sql`1`))
    .execute();
  return rows.map((row) => ({
    key: row.key === null ? null : String(row.key),
    created: Number(row.created),
    opened: Number(row.opened),
    linked: Number(row.linked),
    failed: Number(row.failed),
    deauthorized: Number(row.deauthorized),
    reconnected: Number(row.reconnected),
    abandonedOpened: Number(row.abandonedOpened),
    abandonedChosen: Number(row.abandonedChosen),
    abandonedRedirected: Number(row.abandonedRedirected),
    abandonedReturned: Number(row.abandonedReturned),
  }));
}

/** How long each linked journey that started in the window took, from creation to linking, per group, shortest first. */
export async function timesToLink(
  db: Db,
  clientId: ClientId,
  window: TimeWindow,
  grouping: FunnelGrouping,
): Promise<Array<{ key: string | null; ms: number }>> {
  const key = groupKey(grouping);
  const rows = await journeysIn(db, clientId, window, grouping)
    .select([key.as("key"), sql<number | string>`link_funnels.linked_at - link_funnels.created_at`.as("ms")])
    .where("link_funnels.linked_at", "is not", null)
    .orderBy(sql`2`)
    .execute();
  return rows.map((row) => ({ key: row.key === null ? null : String(row.key), ms: Number(row.ms) }));
}

/** The failures of the journeys that started in the window, per group and error: how many, and the latest. */
export async function failureCounts(db: Db, clientId: ClientId, window: TimeWindow, grouping: FunnelGrouping) {
  const key = groupKey(grouping);
  // Driven by the journeys that failed, each one's failures then read from link_steps_by_connection alone.
  const rows = await journeysIn(db, clientId, window, grouping)
    .innerJoin("link_steps", (join) => join.onRef("link_steps.connection_id", "=", "link_funnels.connection_id").on("link_steps.step", "=", "failed"))
    .where("link_funnels.failed_at", "is not", null)
    .select([
      key.as("key"),
      "link_steps.status_code",
      "link_steps.status_text",
      sql<number | string>`COUNT(*)`.as("count"),
      sql<number | string>`MAX(link_steps.at)`.as("lastSeen"),
    ])
    .$if(grouping !== null, (query) => query.groupBy(sql`1`))
    .groupBy(["link_steps.status_code", "link_steps.status_text"])
    .execute();
  return rows.map((row) => ({
    key: row.key === null ? null : String(row.key),
    statusCode: row.status_code ?? "",
    statusText: row.status_text ?? "",
    count: Number(row.count),
    lastSeen: Number(row.lastSeen),
  }));
}

/**
 * The client's connections that are not linked now and failed, were
 * deauthorized, or were opened before `abandonedBefore`: with their company
 * and journey, newest first, at most `limit`.
 */
export function connectionsNeedingAction(db: Db, clientId: ClientId, abandonedBefore: number, limit: number) {
  return db
    .selectFrom("link_funnels")
    .innerJoin("connections", "connections.id", "link_funnels.connection_id")
    .innerJoin("companies", "companies.id", "connections.company_id")
    .select([
      "connections.id as connectionId",
      "connections.company_id as companyId",
      "companies.name as companyName",
      "connections.status",
      "connections.link_key as linkKey",
      "link_funnels.integration_key as integrationKey",
      "link_funnels.opened_at as openedAt",
      "link_funnels.chosen_at as chosenAt",
      "link_funnels.redirected_at as redirectedAt",
      "link_funnels.returned_at as returnedAt",
      "link_funnels.failed_at as failedAt",
      "link_funnels.error_status_code as statusCode",
      "link_funnels.error_status_text as statusText",
      "link_funnels.error_message as errorMessage",
      "link_funnels.deauthorized_at as deauthorizedAt",
      "link_funnels.reminded_at as remindedAt",
    ])
    .select((eb) => eb.fn.coalesce("link_funnels.deauthorized_at", "link_funnels.failed_at", "link_funnels.opened_at").as("since"))
    .where("link_funnels.client_id", "=", clientId)
    .where("connections.client_id", "=", clientId)
    .where((eb) =>
      eb.or([
        eb("connections.status", "=", "Deauthorized"),
        eb.and([
          eb("connections.status", "=", "PendingAuth"),
          eb("link_funnels.linked_at", "is", null),
          eb.or([eb("link_funnels.failed_at", "is not", null), eb("link_funnels.opened_at", "<", abandonedBefore)]),
        ]),
      ]),
    )
    .orderBy("since", "desc")
    .orderBy("connections.id", "desc")
    .limit(limit)
    .execute();
}

/** How many of each of `steps` the client's connections took in the window, by integration. */
export async function stepCounts(db: Db, clientId: ClientId, steps: readonly LinkStep[], window: TimeWindow) {
  const rows = await db
    .selectFrom("link_steps")
    .select(["integration_key", "step", (eb) => eb.fn.countAll<number | string>().as("count")])
    .where("client_id", "=", clientId)
    .where("step", "in", steps)
    .where("at", ">=", window.since)
    .where("at", "<", window.until)
    .groupBy(["integration_key", "step"])
    .execute();
  return rows.map((row) => ({ integrationKey: row.integration_key, step: row.step, count: Number(row.count) }));
}

/** The client's journey of one connection: where it stands and its latest error; undefined before its first step is recorded. */
export function findJourney(db: Db, clientId: ClientId, connectionId: ConnectionId) {
  return db
    .selectFrom("link_funnels")
    .select(["opened_at", "linked_at", "failed_at", "error_status_code", "error_status_text"])
    .where("client_id", "=", clientId)
    .where("connection_id", "=", connectionId)
    .executeTakeFirst();
}

/** Deletes up to `limit` of the steps recorded before `before`, oldest first; returns how many. */
export async function deleteLinkStepsBefore(store: Store, before: number, limit: number): Promise<number> {
  const result = await store.db
    .deleteFrom("link_steps")
    .where("id", "in", (eb) => eb.selectFrom("link_steps").select("id").where("at", "<", before).orderBy("at").limit(limit))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
