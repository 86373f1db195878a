import { sql } from "kysely";
import type { ClientId, CompanyId, ConnectionId } from "../ids.ts";
import { newId } from "../ids.ts";
import type { Selectable } from "kysely";
import type { Db, Store, Tx } from "./database.ts";
import type { LinkFunnelsTable, LinkRollupsTable, LinkStep } from "./schema.ts";

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
 * Records one step: the step row, the connection's summary made or brought up
 * to date, and the roll-ups moved from what the journey was to what it
 * is now, in one transaction. A step whose id is already kept changes nothing.
 */
export async function recordStep(store: Store, record: StepRecord): Promise<void> {
  const { step, at, error } = record;
  const id = record.id ?? newId();
  await store.transaction(async ({ tx }) => {
    const inserted = await tx
      .insertInto("link_steps")
      .values({
        id,
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
    const summary = () =>
      tx.insertInto("link_funnels").values({
        connection_id: record.connectionId,
        client_id: record.clientId,
        company_id: record.companyId,
        integration_key: record.integrationKey,
        created_at: record.createdAt,
        failures: step === "failed" ? 1 : 0,
        ...failed,
        ...firstTime,
        ...latestTime,
      });
    // The journey's first step makes its summary; a later one locks it first, so that the summary before and after
    // this step are read without another step of the same journey in between (each moves the roll-ups once).
    const made = await summary()
      .onConflict((conflict) => conflict.column("connection_id").doNothing())
      .executeTakeFirst();
    const before =
      Number(made.numInsertedOrUpdatedRows ?? 0) === 1 ? undefined : await store.dialect.lockRows(journeyOf(tx, record.connectionId)).executeTakeFirst();
    if (before) {
      await summary()
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
    }
    // One client's steps move its roll-ups one at a time: two journeys moving between the same two groups in
    // opposite directions would otherwise lock their rows in opposite orders on PostgreSQL, and one would be aborted.
    await store.dialect.lockRows(tx.selectFrom("clients").select("id").where("id", "=", record.clientId)).execute();
    const after = await journeyOf(tx, record.connectionId).executeTakeFirstOrThrow();
    const failure = step === "failed" ? { statusCode: error?.statusCode ?? "", statusText: error?.statusText ?? "", at } : undefined;
    for (const span of SPANS) await moveRollups(tx, span, record.connectionId, id, before, after, failure);
  });
}

/* Roll-ups: each journey counts in the row of its cohort day (the UTC day it was created), integration and latest
 * error code, in each figure it reached, and in the time-to-link bucket of its linking; and the same in the row of
 * its cohort hour, so that a range that starts or ends within a day reads its whole hours from the roll-ups too and
 * at most two part hours from the journeys. Recording a step takes the journey's contribution out of where it was
 * and puts it where it is now. */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** The roll-ups' spans, longest first. */
const SPANS = [DAY_MS, HOUR_MS] as const;

/**
 * Times to link are kept in buckets about 5% wide on a log scale: bucket 0 for
 * under a millisecond, bucket b > 0 for [1.05^(b-1), 1.05^b) ms. A percentile
 * read from them is the middle of its bucket, within 2.5% of the exact one.
 */
const BUCKET_BASE = 1.05;
export const timeBucket = (ms: number): number => (ms < 1 ? 0 : Math.floor(Math.log(ms) / Math.log(BUCKET_BASE)) + 1);
/** The time a bucket stands for: the geometric middle of its bounds, in whole ms. */
export const bucketTime = (bucket: number): number => (bucket === 0 ? 0 : Math.round(BUCKET_BASE ** (bucket - 0.5)));

const COUNT_COLUMNS = [
  "created",
  "opened",
  "linked",
  "failed",
  "deauthorized",
  "reconnected",
  "stopped_opened",
  "stopped_chosen",
  "stopped_redirected",
  "stopped_returned",
] as const;
type RollupCounts = Record<(typeof COUNT_COLUMNS)[number], number>;
type RollupGroup = Pick<LinkRollupsTable, "client_id" | "span" | "start" | "integration_key" | "error_status_code">;
const GROUP_COLUMNS = ["client_id", "span", "start", "integration_key", "error_status_code"] as const;

const journeyOf = (db: Db, connectionId: ConnectionId) => db.selectFrom("link_funnels").select(JOURNEY_COLUMNS).where("connection_id", "=", connectionId);
const JOURNEY_COLUMNS = [
  "client_id",
  "integration_key",
  "created_at",
  "opened_at",
  "chosen_at",
  "redirected_at",
  "returned_at",
  "linked_at",
  "failed_at",
  "error_status_code",
  "deauthorized_at",
  "reconnected_at",
] as const;
type Journey = Pick<Selectable<LinkFunnelsTable>, (typeof JOURNEY_COLUMNS)[number]>;

/** Where a journey counts in the roll-ups of `span`, and in what. */
function contributionOf(journey: Journey, span: number): { group: RollupGroup; counts: RollupCounts; bucket: number | null } {
  const createdAt = Number(journey.created_at);
  const set = (time: number | null) => (time === null ? 0 : 1);
  const stopped = journey.opened_at !== null && journey.linked_at === null && journey.failed_at === null;
  const furthest = !stopped
    ? null
    : journey.returned_at !== null
      ? "returned"
      : journey.redirected_at !== null
        ? "redirected"
        : journey.chosen_at !== null
          ? "chosen"
          : "opened";
  return {
    group: {
      client_id: journey.client_id,
      span,
      start: createdAt - (createdAt % span),
      integration_key: journey.integration_key,
      error_status_code: journey.error_status_code ?? "",
    },
    counts: {
      created: 1,
      opened: set(journey.opened_at),
      linked: set(journey.linked_at),
      failed: journey.linked_at === null ? set(journey.failed_at) : 0,
      deauthorized: set(journey.deauthorized_at),
      reconnected: set(journey.reconnected_at),
      stopped_opened: furthest === "opened" ? 1 : 0,
      stopped_chosen: furthest === "chosen" ? 1 : 0,
      stopped_redirected: furthest === "redirected" ? 1 : 0,
      stopped_returned: furthest === "returned" ? 1 : 0,
    },
    bucket: journey.linked_at === null ? null : timeBucket(Number(journey.linked_at) - createdAt),
  };
}

const sameGroup = (a: RollupGroup, b: RollupGroup) => GROUP_COLUMNS.every((column) => String(a[column]) === String(b[column]));
const addedUp = (column: string, table: string) => sql<number>`${sql.ref(`${table}.${column}`)} + ${sql.ref(`excluded.${column}`)}`;

async function addCounts(tx: Tx, group: RollupGroup, counts: RollupCounts): Promise<void> {
  if (COUNT_COLUMNS.every((column) => counts[column] === 0)) return;
  await tx
    .insertInto("link_rollups")
    .values({ ...group, ...counts })
    .onConflict((conflict) =>
      conflict.columns(GROUP_COLUMNS).doUpdateSet(Object.fromEntries(COUNT_COLUMNS.map((column) => [column, addedUp(column, "link_rollups")]))),
    )
    .execute();
}

async function addTime(tx: Tx, group: RollupGroup, bucket: number, linked: number): Promise<void> {
  await tx
    .insertInto("link_rollup_times")
    .values({ ...group, bucket, linked })
    .onConflict((conflict) => conflict.columns([...GROUP_COLUMNS, "bucket"]).doUpdateSet({ linked: addedUp("linked", "link_rollup_times") }))
    .execute();
}

/** Adds `failures` of an error to a group; the latest is kept (a removal passes 0, which changes it not). */
async function addFailures(tx: Tx, group: RollupGroup, error: { statusCode: string; statusText: string }, failures: number, lastSeen: number): Promise<void> {
  await tx
    .insertInto("link_rollup_errors")
    .values({ ...group, status_code: error.statusCode, status_text: error.statusText, failures, last_seen: lastSeen })
    .onConflict((conflict) =>
      conflict.columns([...GROUP_COLUMNS, "status_code", "status_text"]).doUpdateSet({
        failures: addedUp("failures", "link_rollup_errors"),
        last_seen: sql<number>`CASE WHEN ${sql.ref("excluded.last_seen")} > ${sql.ref("link_rollup_errors.last_seen")} THEN ${sql.ref("excluded.last_seen")} ELSE ${sql.ref("link_rollup_errors.last_seen")} END`,
      }),
    )
    .execute();
}

/**
 * Moves a journey's contribution to the roll-ups of one span (a day or an
 * hour) from `before` (none for its first step) to `after`. A failure with another error code moves the journey to another
 * group, its earlier failures with it; the group it left keeps their latest
 * time as its errors' `last_seen`, so that one can be later than its remaining failures'.
 */
async function moveRollups(
  tx: Tx,
  span: number,
  connectionId: ConnectionId,
  stepId: string,
  before: Journey | undefined,
  after: Journey,
  failure: { statusCode: string; statusText: string; at: number } | undefined,
): Promise<void> {
  const was = before && contributionOf(before, span);
  const is = contributionOf(after, span);
  const moved = was !== undefined && !sameGroup(was.group, is.group);
  if (!was || moved) {
    if (was) await addCounts(tx, was.group, Object.fromEntries(COUNT_COLUMNS.map((column) => [column, -was.counts[column]])) as RollupCounts);
    await addCounts(tx, is.group, is.counts);
  } else {
    await addCounts(tx, is.group, Object.fromEntries(COUNT_COLUMNS.map((column) => [column, is.counts[column] - was.counts[column]])) as RollupCounts);
  }
  if (moved || was?.bucket !== is.bucket) {
    if (was?.bucket != null) await addTime(tx, was.group, was.bucket, -1);
    if (is.bucket !== null) await addTime(tx, is.group, is.bucket, 1);
  }
  if (moved) {
    const earlier = await tx
      .selectFrom("link_steps")
      .select(["status_code", "status_text", (eb) => eb.fn.countAll<number | string>().as("failures"), (eb) => eb.fn.max("at").as("lastSeen")])
      .where("connection_id", "=", connectionId)
      .where("step", "=", "failed")
      .where("id", "!=", stepId)
      .groupBy(["status_code", "status_text"])
      .execute();
    for (const row of earlier) {
      const error = { statusCode: row.status_code ?? "", statusText: row.status_text ?? "" };
      await addFailures(tx, was.group, error, -Number(row.failures), 0);
      await addFailures(tx, is.group, error, Number(row.failures), Number(row.lastSeen));
    }
  }
  if (failure) await addFailures(tx, is.group, failure, 1, failure.at);
}

/**
 * Builds the roll-ups afresh from the journeys kept: once, for the journeys
 * recorded before there were roll-ups, and for data written straight into the
 * tables. The journeys are read a page at a time, in one pass.
 */
export async function rebuildLinkRollups(db: Db): Promise<void> {
  await db.deleteFrom("link_rollups").execute();
  await db.deleteFrom("link_rollup_times").execute();
  await db.deleteFrom("link_rollup_errors").execute();
  const counts = new Map<string, RollupGroup & RollupCounts>();
  const times = new Map<string, RollupGroup & { bucket: number; linked: number }>();
  let after: string | null = null;
  for (;;) {
    const page: Array<Journey & { connection_id: string }> = await db
      .selectFrom("link_funnels")
      .select([...JOURNEY_COLUMNS, "connection_id"])
      .$if(after !== null, (query) => query.where("connection_id", ">", after as ConnectionId))
      .orderBy("connection_id")
      .limit(10_000)
      .execute();
    for (const journey of page) {
      for (const span of SPANS) {
        const { group, counts: add, bucket } = contributionOf(journey, span);
        const key = JSON.stringify(GROUP_COLUMNS.map((column) => group[column]));
        const sum = counts.get(key) ?? { ...group, ...add };
        if (counts.has(key)) for (const column of COUNT_COLUMNS) sum[column] += add[column];
        counts.set(key, sum);
        if (bucket === null) continue;
        const timeKey = `${key}${bucket}`;
        const time = times.get(timeKey) ?? { ...group, bucket, linked: 0 };
        time.linked += 1;
        times.set(timeKey, time);
      }
    }
    if (page.length < 10_000) break;
    after = page.at(-1)!.connection_id;
  }
  const rows = <T>(map: Map<string, T>) => [...map.values()];
  for (const [table, values] of [
    ["link_rollups", rows(counts)],
    ["link_rollup_times", rows(times)],
  ] as const) {
    for (let from = 0; from < values.length; from += 500)
      await db
        .insertInto(table)
        .values(values.slice(from, from + 500))
        .execute();
  }
  // Each journey's failures in its group, from the steps kept (by link_steps_by_connection).
  for (const span of SPANS) {
    await db
      .insertInto("link_rollup_errors")
      .columns([...GROUP_COLUMNS, "status_code", "status_text", "failures", "last_seen"])
      .expression(
        db
          .selectFrom("link_funnels")
          .innerJoin("link_steps", (join) => join.onRef("link_steps.connection_id", "=", "link_funnels.connection_id").on("link_steps.step", "=", "failed"))
          .select([
            "link_funnels.client_id",
            sql<number>`${sql.lit(span)}`.as("span"),
            sql<number>`link_funnels.created_at - link_funnels.created_at % ${sql.lit(span)}`.as("start"),
            "link_funnels.integration_key",
            sql<string>`COALESCE(link_funnels.error_status_code, '')`.as("error_status_code"),
            sql<string>`COALESCE(link_steps.status_code, '')`.as("status_code"),
            sql<string>`COALESCE(link_steps.status_text, '')`.as("status_text"),
            (eb) => eb.fn.countAll<number>().as("failures"),
            (eb) => eb.fn.max("link_steps.at").as("last_seen"),
          ])
          .where("link_funnels.failed_at", "is not", null)
          .groupBy(sql`1, 2, 3, 4, 5, 6, 7`),
      )
      .execute();
  }
}

export interface TimeWindow {
  since: number;
  until: number;
}

/** How the figures are grouped: by a column of the journey, the UTC day it started, or a company tag's value. */
export type FunnelGrouping = { kind: "integration" | "errorCode" | "day" } | { kind: "tag"; key: string } | null;

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
async function funnelCounts(db: Db, clientId: ClientId, window: TimeWindow, grouping: FunnelGrouping, abandonedBefore: number): Promise<FunnelCounts[]> {
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

export interface TimeCount {
  key: string | null;
  /** The time-to-link bucket (timeBucket) and how many linked within it. */
  bucket: number;
  count: number;
}

/** How many linked journeys that started in the window took how long, from creation to linking, per group and bucket. */
async function timesToLink(db: Db, clientId: ClientId, window: TimeWindow, grouping: FunnelGrouping): Promise<TimeCount[]> {
  const key = groupKey(grouping);
  const rows = await journeysIn(db, clientId, window, grouping)
    .select([key.as("key"), sql<number | string>`link_funnels.linked_at - link_funnels.created_at`.as("ms")])
    .where("link_funnels.linked_at", "is not", null)
    .execute();
  return mergeTimes(rows.map((row) => ({ key: row.key === null ? null : String(row.key), bucket: timeBucket(Number(row.ms)), count: 1 })));
}

export interface ErrorCount {
  key: string | null;
  statusCode: string;
  statusText: string;
  count: number;
  lastSeen: number;
}

/** The failures of the journeys that started in the window, per group and error: how many, and the latest. */
async function failureCounts(db: Db, clientId: ClientId, window: TimeWindow, grouping: FunnelGrouping): Promise<ErrorCount[]> {
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

/** The group of each roll-up row, as groupKey gives it for a journey. */
function rollupKey(grouping: FunnelGrouping) {
  switch (grouping?.kind) {
    case undefined:
    case "tag":
      return sql<string | null>`null`;
    case "integration":
      return sql<string | null>`integration_key`;
    case "errorCode":
      return sql<string | null>`NULLIF(error_status_code, '')`;
    case "day":
      return sql<string | null>`start - start % ${sql.lit(DAY_MS)}`;
  }
}

const keyOf = (key: unknown) => (key === null ? null : String(key));

/**
 * The figures of the journeys that started in `part`, whole days or hours
 * (`span`), from the roll-ups: counts and buckets added up over them, the
 * stopped journeys counted as abandoned (funnelFigures takes off those still under way).
 */
async function rolledUp(db: Db, clientId: ClientId, part: TimeWindow & { span: number }, grouping: FunnelGrouping) {
  const key = rollupKey(grouping);
  const sum = (column: string) => sql<number | string>`SUM(${sql.ref(column)})`;
  const [counts, times, failures] = await Promise.all([
    db
      .selectFrom("link_rollups")
      .select([key.as("key"), ...COUNT_COLUMNS.map((column) => sum(column).as(column))])
      .where("client_id", "=", clientId)
      .where("span", "=", part.span)
      .where("start", ">=", part.since)
      .where("start", "<", part.until)
      .$if(grouping !== null, (query) => query.groupBy(sql`1`))
      .having(sql`SUM(created)`, ">", 0)
      .execute(),
    db
      .selectFrom("link_rollup_times")
      .select([key.as("key"), "bucket", sum("linked").as("count")])
      .where("client_id", "=", clientId)
      .where("span", "=", part.span)
      .where("start", ">=", part.since)
      .where("start", "<", part.until)
      .$if(grouping !== null, (query) => query.groupBy(sql`1`))
      .groupBy("bucket")
      .having(sql`SUM(linked)`, ">", 0)
      .execute(),
    db
      .selectFrom("link_rollup_errors")
      .select([key.as("key"), "status_code", "status_text", sum("failures").as("count"), sql<number | string>`MAX(last_seen)`.as("lastSeen")])
      .where("client_id", "=", clientId)
      .where("span", "=", part.span)
      .where("start", ">=", part.since)
      .where("start", "<", part.until)
      .$if(grouping !== null, (query) => query.groupBy(sql`1`))
      .groupBy(["status_code", "status_text"])
      .having(sql`SUM(failures)`, ">", 0)
      .execute(),
  ]);
  return {
    counts: counts.map((row): FunnelCounts => ({
      key: keyOf(row.key),
      created: Number(row.created),
      opened: Number(row.opened),
      linked: Number(row.linked),
      failed: Number(row.failed),
      deauthorized: Number(row.deauthorized),
      reconnected: Number(row.reconnected),
      abandonedOpened: Number(row.stopped_opened),
      abandonedChosen: Number(row.stopped_chosen),
      abandonedRedirected: Number(row.stopped_redirected),
      abandonedReturned: Number(row.stopped_returned),
    })),
    times: times.map((row) => ({ key: keyOf(row.key), bucket: Number(row.bucket), count: Number(row.count) })),
    failures: failures.map((row) => ({
      key: keyOf(row.key),
      statusCode: row.status_code,
      statusText: row.status_text,
      count: Number(row.count),
      lastSeen: Number(row.lastSeen),
    })),
  };
}

/**
 * The journeys that started in the window and stopped, but were opened at or
 * after `abandonedBefore`, so are still under way: per group and furthest
 * step. Few (one abandon window's openings), by link_funnels_unlinked.
 */
async function stillUnderWay(db: Db, clientId: ClientId, window: TimeWindow, grouping: FunnelGrouping, abandonedBefore: number) {
  const rows = await db
    .selectFrom("link_funnels")
    .select([
      groupKey(grouping).as("key"),
      sql<string>`CASE WHEN returned_at IS NOT NULL THEN 'returned' WHEN redirected_at IS NOT NULL THEN 'redirected' WHEN chosen_at IS NOT NULL THEN 'chosen' ELSE 'opened' END`.as(
        "stoppedAt",
      ),
      (eb) => eb.fn.countAll<number | string>().as("count"),
    ])
    .where("client_id", "=", clientId)
    .where("linked_at", "is", null)
    .where("opened_at", ">=", abandonedBefore)
    .where("failed_at", "is", null)
    .where("created_at", ">=", window.since)
    .where("created_at", "<", window.until)
    .groupBy(grouping === null ? sql`2` : sql`1, 2`)
    .execute();
  return rows.map((row) => ({ key: keyOf(row.key), stoppedAt: row.stoppedAt, count: Number(row.count) }));
}

/** Items with the same identity made one by `merge`, in first-seen order. */
function mergeBy<T>(items: readonly T[], identity: (item: T) => unknown, merge: (a: T, b: T) => T): T[] {
  const merged = new Map<string, T>();
  for (const item of items) {
    const id = JSON.stringify(identity(item));
    const seen = merged.get(id);
    merged.set(id, seen === undefined ? item : merge(seen, item));
  }
  return [...merged.values()];
}

const mergeTimes = (times: readonly TimeCount[]) =>
  mergeBy(
    times,
    (time) => [time.key, time.bucket],
    (a, b) => ({ ...a, count: a.count + b.count }),
  );

/** The same group's counts, added up. */
export const mergeCounts = (counts: readonly FunnelCounts[]) =>
  mergeBy(
    counts,
    (count) => count.key,
    (a, b) =>
      Object.fromEntries(
        Object.entries(a).map(([name, value]) => [name, name === "key" ? value : (value as number) + (b[name as keyof FunnelCounts] as number)]),
      ) as FunnelCounts,
  );

/** The same group's same error, as one: how many in all, and the latest. */
export const mergeFailures = (failures: readonly ErrorCount[]) =>
  mergeBy(
    failures,
    (error) => [error.key, error.statusCode, error.statusText],
    (a, b) => ({ ...a, count: a.count + b.count, lastSeen: Math.max(a.lastSeen, b.lastSeen) }),
  );

/**
 * The window cut into what the roll-ups answer, their longest whole spans
 * first, and the part spans at its edges (`span` null), which they do not.
 */
function partsOf(window: TimeWindow, spans: readonly number[] = SPANS): Array<TimeWindow & { span: number | null }> {
  if (window.since >= window.until) return [];
  const [span, ...shorter] = spans;
  if (span === undefined) return [{ ...window, span: null }];
  const whole = { since: Math.ceil(window.since / span) * span, until: Math.floor(window.until / span) * span };
  if (whole.since >= whole.until) return partsOf(window, shorter);
  return [
    ...partsOf({ since: window.since, until: whole.since }, shorter),
    { ...whole, span },
    ...partsOf({ since: whole.until, until: window.until }, shorter),
  ];
}

/**
 * The client's link funnel over the journeys that started in the window, per
 * group: its whole UTC days, and whole hours of the days it starts or ends
 * within, from the roll-ups; the part hours at its edges from the journeys
 * themselves. Grouped by a tag, whose values change after the fact, every
 * journey of the window is read.
 */
export async function funnelFigures(
  db: Db,
  clientId: ClientId,
  window: TimeWindow,
  grouping: FunnelGrouping,
  abandonedBefore: number,
): Promise<{ counts: FunnelCounts[]; times: TimeCount[]; failures: ErrorCount[] }> {
  const raw = async (part: TimeWindow) => {
    const [counts, times, failures] = await Promise.all([
      funnelCounts(db, clientId, part, grouping, abandonedBefore),
      timesToLink(db, clientId, part, grouping),
      failureCounts(db, clientId, part, grouping),
    ]);
    return { counts, times, failures };
  };
  if (grouping?.kind === "tag") return raw(window);
  const pieces = partsOf(window);
  // The rolled-up pieces are one stretch of the window: the part hours are at its edges.
  const rolled = pieces.filter((piece) => piece.span !== null);
  const [parts, underWay] = await Promise.all([
    Promise.all(pieces.map(({ span, ...piece }) => (span === null ? raw(piece) : rolledUp(db, clientId, { ...piece, span }, grouping)))),
    rolled.length === 0 ? [] : stillUnderWay(db, clientId, { since: rolled[0]!.since, until: rolled.at(-1)!.until }, grouping, abandonedBefore),
  ]);
  const notAbandoned = (key: string | null, stoppedAt: string) => underWay.find((row) => row.key === key && row.stoppedAt === stoppedAt)?.count ?? 0;
  return {
    counts: mergeCounts(parts.flatMap((part) => part.counts)).map((group) => ({
      ...group,
      abandonedOpened: group.abandonedOpened - notAbandoned(group.key, "opened"),
      abandonedChosen: group.abandonedChosen - notAbandoned(group.key, "chosen"),
      abandonedRedirected: group.abandonedRedirected - notAbandoned(group.key, "redirected"),
      abandonedReturned: group.abandonedReturned - notAbandoned(group.key, "returned"),
    })),
    times: mergeTimes(parts.flatMap((part) => part.times)),
    failures: mergeFailures(parts.flatMap((part) => part.failures)),
  };
}

/**
 * The client's connections that are not linked now and failed, were
 * deauthorized, or were opened before `abandonedBefore`: with their company
 * and journey, newest first, at most `limit`.
 */
export function connectionsNeedingAction(db: Db, clientId: ClientId, abandonedBefore: number, limit: number) {
  return (
    db
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
      // The status the integration gave with the latest deauthorization, while its step is kept (by link_steps_by_connection).
      .select((eb) => {
        const deauthorization = eb
          .selectFrom("link_steps")
          .whereRef("link_steps.connection_id", "=", "link_funnels.connection_id")
          .where("link_steps.step", "=", "deauthorized")
          .orderBy("link_steps.at", "desc")
          .limit(1);
        return [
          deauthorization.select("link_steps.status_code").as("deauthorizedStatusCode"),
          deauthorization.select("link_steps.status_text").as("deauthorizedStatusText"),
        ];
      })
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
      .execute()
  );
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
