import assert from "node:assert/strict";
import { test } from "node:test";
import type { ClientId } from "../../src/ids.ts";
import {
  bucketTime,
  deleteLinkStepsBefore,
  funnelFigures,
  mergeCounts,
  mergeFailures,
  rebuildLinkRollups,
  recordStep,
  timeBucket,
  type FunnelGrouping,
  type StepRecord,
  type TimeWindow,
} from "../../src/storage/link-funnels.ts";
import type { Store } from "../../src/storage/database.ts";
import { openTestStore, readTable, seedConnection, seedTwoTenants } from "../support/storage.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Three whole UTC days. */
const FIRST_DAY = 20_000 * DAY;
const DAYS = { since: FIRST_DAY, until: FIRST_DAY + 3 * DAY };
/** Journeys opened after this, neither linked nor failed, are still under way: the middle of the last day. */
const ABANDONED_BEFORE = FIRST_DAY + 2 * DAY + 12 * HOUR;
const GROUPINGS: FunnelGrouping[] = [null, { kind: "integration" }, { kind: "errorCode" }, { kind: "day" }];

const cancelled = { statusCode: "403", statusText: "User cancelled linking", errorMessage: "cancelled" };
const refused = { statusCode: "401", statusText: "Unauthorized", errorMessage: "bad credentials" };
const unavailable = { statusCode: "500", statusText: "Bank unavailable", errorMessage: "down" };

type Script = Array<[StepRecord["step"], number, StepRecord["error"]?]>;
/** Journeys of every shape, by the minutes after their creation at which each step happened. */
const SCRIPTS: Script[] = [
  [
    ["opened", 1],
    ["chosen", 2],
    ["redirected", 3],
    ["returned", 40],
    ["linked", 41],
  ],
  // Failed, then failed again with another error: the journey moves to the later error's group with both failures.
  [
    ["opened", 1],
    ["failed", 5, cancelled],
    ["failed", 9, refused],
  ],
  // Failed, then relinked.
  [
    ["opened", 1],
    ["failed", 3, unavailable],
    ["linked", 300],
  ],
  // Linked, deauthorized by its source, linked again.
  [
    ["opened", 1],
    ["linked", 7],
    ["deauthorized", 600],
    ["reconnected", 900],
  ],
  // Abandoned at each step, or under way when opened late on the last day.
  [["opened", 2]],
  [
    ["opened", 2],
    ["chosen", 3],
  ],
  [
    ["opened", 1],
    ["redirected", 2],
  ],
  [
    ["opened", 1],
    ["redirected", 2],
    ["returned", 30],
  ],
  // Never opened.
  [["created", 0]],
  // Steps arriving out of order: the link before the opening, an earlier failure after a later one.
  [
    ["linked", 90],
    ["opened", 4],
    ["failed", 50, unavailable],
    ["failed", 20, cancelled],
  ],
  [
    ["opened", 1],
    ["linked", 2],
    ["disconnected", 100],
    ["reconnected", 200],
  ],
];

/** Records journeys of every script over the three days (and one either side), through recordStep. */
async function recordJourneys(store: Store, clientId: ClientId, companyId: Parameters<typeof seedConnection>[2]): Promise<void> {
  let seed = 7;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  for (let index = 0; index < 110; index++) {
    const createdAt = FIRST_DAY - HOUR + Math.floor(random() * (3 * DAY + 2 * HOUR));
    const integrationKey = index % 3 === 0 ? "gbol" : "sand";
    const connection = await seedConnection(store, clientId, companyId, { created_at: createdAt, integration_key: integrationKey });
    for (const [step, minutes, error] of SCRIPTS[index % SCRIPTS.length]!) {
      const at = createdAt + minutes * 60_000 + Math.floor(random() * 60_000);
      await recordStep(store, { clientId, companyId, connectionId: connection.id, integrationKey, createdAt, step, at, error });
    }
  }
}

/** The figures of `window` from the journeys alone: in half hours, which no roll-up answers. */
async function fromJourneys(store: Store, clientId: ClientId, window: TimeWindow, grouping: FunnelGrouping) {
  const parts = [];
  for (let since = window.since; since < window.until; since += HOUR / 2) {
    parts.push(await funnelFigures(store.db, clientId, { since, until: Math.min(since + HOUR / 2, window.until) }, grouping, ABANDONED_BEFORE));
  }
  return comparable(
    {
      counts: mergeCounts(parts.flatMap((part) => part.counts)),
      times: parts.flatMap((part) => part.times),
      failures: mergeFailures(parts.flatMap((part) => part.failures)),
    },
    grouping,
  );
}

/**
 * Figures in one order, the times per group and bucket. Grouped by error code, the errors' `lastSeen` is left
 * out: a journey that moved to another error's group leaves its failures' latest time behind (the README says so).
 */
function comparable(figures: Awaited<ReturnType<typeof funnelFigures>>, grouping: FunnelGrouping) {
  const order = (a: object, b: object) => JSON.stringify(a).localeCompare(JSON.stringify(b));
  const times = new Map<string, number>();
  for (const { key, bucket, count } of figures.times) times.set(JSON.stringify([key, bucket]), (times.get(JSON.stringify([key, bucket])) ?? 0) + count);
  return {
    counts: [...figures.counts].sort(order),
    times: [...times.entries()].sort(),
    failures: figures.failures.map((error) => (grouping?.kind === "errorCode" ? { ...error, lastSeen: 0 } : error)).sort(order),
  };
}

test("the figures of whole days and hours from the roll-ups equal those counted from the journeys, for every grouping", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, companyA, companyB } = await seedTwoTenants(store);
  await recordJourneys(store, clientA, companyA.id);
  await recordJourneys(store, clientB, companyB.id);
  // Whole days, whole hours and part hours.
  const ragged = { since: FIRST_DAY + 5 * HOUR + 20 * 60_000, until: FIRST_DAY + 2 * DAY + 17 * HOUR + 40 * 60_000 };
  for (const grouping of GROUPINGS) {
    for (const window of [DAYS, ragged]) {
      const rolled = comparable(await funnelFigures(store.db, clientA, window, grouping, ABANDONED_BEFORE), grouping);
      assert.deepEqual(rolled, await fromJourneys(store, clientA, window, grouping), `grouped by ${grouping?.kind ?? "nothing"}, ${JSON.stringify(window)}`);
    }
  }
  const total = (await funnelFigures(store.db, clientA, DAYS, null, ABANDONED_BEFORE)).counts[0]!;
  assert.ok(total.created > 90 && total.linked > 0 && total.failed > 0 && total.deauthorized > 0 && total.reconnected > 0, "every figure is exercised");
  assert.ok(total.abandonedOpened + total.abandonedChosen + total.abandonedRedirected + total.abandonedReturned > 0);
  const errorGroups = (await funnelFigures(store.db, clientA, DAYS, { kind: "errorCode" }, ABANDONED_BEFORE)).failures;
  assert.ok(
    errorGroups.some((error) => error.key === "401" && error.statusCode === "403"),
    "a journey's earlier failure counts in the group of its latest error",
  );
  assert.ok(!errorGroups.some((error) => error.key === "403" && error.statusCode === "403" && error.count === 0));
});

test("the roll-ups' times to link are each linked journey's, to the bucket; a bucket's time is within 2.5% of any time in it", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  await recordJourneys(store, clientA, companyA.id);
  const journeys = (await readTable(store, "link_funnels", "connection_id")).filter(
    (row) => row.linked_at !== null && Number(row.created_at) >= DAYS.since && Number(row.created_at) < DAYS.until,
  );
  const exact = journeys.map((row) => Number(row.linked_at) - Number(row.created_at));
  const buckets = new Map<number, number>();
  for (const ms of exact) buckets.set(timeBucket(ms), (buckets.get(timeBucket(ms)) ?? 0) + 1);
  const { times } = await funnelFigures(store.db, clientA, DAYS, null, ABANDONED_BEFORE);
  assert.deepEqual(
    times.map(({ bucket, count }) => [bucket, count]).sort((a, b) => a[0]! - b[0]!),
    [...buckets.entries()].sort((a, b) => a[0] - b[0]),
  );
  for (const ms of exact) assert.ok(Math.abs(bucketTime(timeBucket(ms)) - ms) <= ms * 0.025 + 1, `${ms} ms`);
});

test("the roll-ups keep the days' figures and top errors once the steps are deleted, and a rebuild from the journeys gives the same", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  await recordJourneys(store, clientA, companyA.id);
  const before = await Promise.all(
    GROUPINGS.map(async (grouping) => comparable(await funnelFigures(store.db, clientA, DAYS, grouping, ABANDONED_BEFORE), grouping)),
  );
  await rebuildLinkRollups(store.db);
  const rebuilt = await Promise.all(
    GROUPINGS.map(async (grouping) => comparable(await funnelFigures(store.db, clientA, DAYS, grouping, ABANDONED_BEFORE), grouping)),
  );
  assert.deepEqual(rebuilt, before, "the backfill counts as the recording does");
  while ((await deleteLinkStepsBefore(store, DAYS.until + DAY, 500)) > 0);
  assert.equal((await readTable(store, "link_steps", "at")).length, 0);
  const after = await Promise.all(
    GROUPINGS.map(async (grouping) => comparable(await funnelFigures(store.db, clientA, DAYS, grouping, ABANDONED_BEFORE), grouping)),
  );
  assert.deepEqual(after, before);
  assert.ok(after[0]!.failures.length > 0);
});
