import type { ClientId, CompanyId, ConnectionId } from "../ids.ts";
import { newId } from "../ids.ts";
import type { Db, Store } from "./database.ts";
import type { LinkFunnelsTable, LinkStep } from "./schema.ts";

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
}

/** Steps whose first time the summary keeps; the others (failed aside) keep their latest. */
const FIRST_TIME = { opened: "opened_at", chosen: "chosen_at", redirected: "redirected_at", returned: "returned_at", linked: "linked_at" } as const;
const LATEST = { disconnected: "disconnected_at", deauthorized: "deauthorized_at", reconnected: "reconnected_at", reminded: "reminded_at" } as const;

/** Records one step: the step row, and the connection's summary made or brought up to date, in one transaction. */
export async function recordStep(store: Store, record: StepRecord): Promise<void> {
  const { step, at, error } = record;
  await store.transaction(async ({ tx }) => {
    await tx
      .insertInto("link_steps")
      .values({
        id: newId(),
        client_id: record.clientId,
        connection_id: record.connectionId,
        integration_key: record.integrationKey,
        step,
        at,
        status_code: error?.statusCode ?? null,
        status_text: error?.statusText ?? null,
        error_message: error?.errorMessage ?? null,
      })
      .execute();
    const failed =
      step === "failed"
        ? {
            failed_at: at,
            error_status_code: error?.statusCode ?? null,
            error_status_text: error?.statusText ?? null,
            error_message: error?.errorMessage ?? null,
          }
        : {};
    const first = step in FIRST_TIME ? { [FIRST_TIME[step as keyof typeof FIRST_TIME]]: at } : {};
    const latest = step in LATEST ? { [LATEST[step as keyof typeof LATEST]]: at } : {};
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
        ...first,
        ...latest,
      })
      .onConflict((conflict) => {
        if (step === "failed") {
          return conflict.column("connection_id").doUpdateSet((eb) => ({ ...failed, failures: eb("link_funnels.failures", "+", 1) }));
        }
        if (step in FIRST_TIME) {
          const column = FIRST_TIME[step as keyof typeof FIRST_TIME];
          return conflict
            .column("connection_id")
            .doUpdateSet((eb) => ({ [column]: eb.fn.coalesce(eb.ref(`link_funnels.${column}`), eb.ref(`excluded.${column}`)) }));
        }
        if (step in LATEST) {
          const column = LATEST[step as keyof typeof LATEST];
          return conflict.column("connection_id").doUpdateSet((eb) => ({ [column]: eb.ref(`excluded.${column}`) }));
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

export type FunnelRow = Pick<
  LinkFunnelsTable,
  | "connection_id"
  | "integration_key"
  | "created_at"
  | "opened_at"
  | "chosen_at"
  | "redirected_at"
  | "returned_at"
  | "linked_at"
  | "failed_at"
  | "error_status_code"
> & { tag: string | null };

/** The client's journeys of connections created in the window, each with its company's value of tag `tagKey` (null without one). */
export function funnelsCreatedIn(db: Db, clientId: ClientId, window: TimeWindow, tagKey: string | null): Promise<FunnelRow[]> {
  return db
    .selectFrom("link_funnels")
    .leftJoin("company_tags", (join) =>
      join
        .onRef("company_tags.company_id", "=", "link_funnels.company_id")
        .on("company_tags.client_id", "=", clientId)
        .on("company_tags.key", "=", tagKey ?? ""),
    )
    .select([
      "link_funnels.connection_id",
      "link_funnels.integration_key",
      "link_funnels.created_at",
      "link_funnels.opened_at",
      "link_funnels.chosen_at",
      "link_funnels.redirected_at",
      "link_funnels.returned_at",
      "link_funnels.linked_at",
      "link_funnels.failed_at",
      "link_funnels.error_status_code",
      "company_tags.value as tag",
    ])
    .where("link_funnels.client_id", "=", clientId)
    .where("link_funnels.created_at", ">=", window.since)
    .where("link_funnels.created_at", "<", window.until)
    .execute();
}

/** Every failure of the client's connections created in the window, with its error. */
export function failuresOfCreatedIn(db: Db, clientId: ClientId, window: TimeWindow) {
  // Driven by the connections (those that failed), each one's failures then read from link_steps_by_connection.
  return db
    .selectFrom("link_funnels")
    .innerJoin("link_steps", (join) => join.onRef("link_steps.connection_id", "=", "link_funnels.connection_id").on("link_steps.step", "=", "failed"))
    .select(["link_steps.connection_id", "link_steps.status_code", "link_steps.status_text", "link_steps.at"])
    .where("link_funnels.client_id", "=", clientId)
    .where("link_funnels.created_at", ">=", window.since)
    .where("link_funnels.created_at", "<", window.until)
    .where("link_funnels.failed_at", "is not", null)
    .execute();
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
