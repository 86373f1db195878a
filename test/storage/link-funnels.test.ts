import assert from "node:assert/strict";
import { test } from "node:test";
import { newId, type InsightAlertId } from "../../src/ids.ts";
import { endEpisode, insertAlertRule, openEpisodes, startEpisode } from "../../src/storage/insight-alerts.ts";
import { connectionsNeedingAction, funnelFigures, recordStep, stepCounts, timeBucket, type StepRecord } from "../../src/storage/link-funnels.ts";
import { openTestStore, readTable, seedConnection, seedTwoTenants } from "../support/storage.ts";

const window = { since: 0, until: 1_000_000 };

test("steps arriving out of order keep each first time, the latest recurring ones, and count every failure", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  const connection = await seedConnection(store, clientA, companyA.id, { created_at: 1_000 });
  const journey = { clientId: clientA, companyId: companyA.id, connectionId: connection.id, integrationKey: "sand", createdAt: 1_000 };
  const step = (record: Pick<StepRecord, "step" | "at" | "error">) => recordStep(store, { ...journey, ...record });
  await step({ step: "opened", at: 3_000 });
  await step({ step: "opened", at: 2_000 });
  await step({ step: "opened", at: 4_000 });
  await step({ step: "failed", at: 5_000, error: { statusCode: "403", statusText: "User cancelled linking", errorMessage: "User cancelled" } });
  await step({ step: "failed", at: 6_000, error: { statusCode: "401", statusText: "Unauthorized", errorMessage: "Invalid sandbox credentials" } });
  await step({ step: "reminded", at: 7_000 });
  await step({ step: "reminded", at: 8_000 });
  const [funnel] = await readTable(store, "link_funnels", "connection_id");
  assert.deepEqual(
    {
      created: Number(funnel!.created_at),
      opened: Number(funnel!.opened_at),
      failed: Number(funnel!.failed_at),
      failures: Number(funnel!.failures),
      error: funnel!.error_status_code,
      reminded: Number(funnel!.reminded_at),
    },
    { created: 1_000, opened: 2_000, failed: 6_000, failures: 2, error: "401", reminded: 8_000 },
  );
  assert.equal((await readTable(store, "link_steps", "at")).length, 7, "every step is kept as it happened");
  assert.deepEqual(
    (await funnelFigures(store.db, clientA, window, { kind: "errorCode" }, 0)).failures
      .map(({ key, statusCode, count, lastSeen }) => ({ key, statusCode, count, lastSeen }))
      .sort((a, b) => a.lastSeen - b.lastSeen),
    [
      { key: "401", statusCode: "403", count: 1, lastSeen: 5_000 },
      { key: "401", statusCode: "401", count: 1, lastSeen: 6_000 },
    ],
  );
});

test("the figures count one client's journeys started in the window, per group, and abandoned ones at the step they stopped", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, companyA, companyB } = await seedTwoTenants(store);
  const record = async (
    clientId: typeof clientA,
    companyId: typeof companyA.id,
    integrationKey: string,
    createdAt: number,
    steps: Array<[StepRecord["step"], number]>,
  ) => {
    const connection = await seedConnection(store, clientId, companyId, { created_at: createdAt, integration_key: integrationKey });
    for (const [step, at] of steps) await recordStep(store, { clientId, companyId, connectionId: connection.id, integrationKey, createdAt, step, at });
    return connection;
  };
  await record(clientA, companyA.id, "sand", 1_000, [
    ["opened", 1_100],
    ["linked", 1_500],
  ]);
  await record(clientA, companyA.id, "sand", 2_000, [
    ["opened", 2_100],
    ["linked", 3_000],
  ]);
  await record(clientA, companyA.id, "gbol", 3_000, [
    ["opened", 3_100],
    ["redirected", 3_200],
  ]);
  await record(clientA, companyA.id, "gbol", 4_000, [["opened", 9_000]]);
  await record(clientA, companyA.id, "gbol", 5_000, [["created", 5_000]]);
  await record(clientA, companyA.id, "gbol", 2_000_000, [["opened", 2_000_100]]);
  await record(clientB, companyB.id, "sand", 1_000, [["opened", 1_100]]);

  const { counts } = await funnelFigures(store.db, clientA, window, { kind: "integration" }, 5_000);
  assert.deepEqual(
    counts.sort((a, b) => String(a.key).localeCompare(String(b.key))),
    [
      {
        key: "gbol",
        created: 3,
        opened: 2,
        linked: 0,
        failed: 0,
        deauthorized: 0,
        reconnected: 0,
        abandonedOpened: 0,
        abandonedChosen: 0,
        abandonedRedirected: 1,
        abandonedReturned: 0,
      },
      {
        key: "sand",
        created: 2,
        opened: 2,
        linked: 2,
        failed: 0,
        deauthorized: 0,
        reconnected: 0,
        abandonedOpened: 0,
        abandonedChosen: 0,
        abandonedRedirected: 0,
        abandonedReturned: 0,
      },
    ],
    "opened at 9,000, after the abandonment time, is still under way; the journey of 2,000,000 is out of the window; client B's is not counted",
  );
  assert.deepEqual(
    (await funnelFigures(store.db, clientA, window, null, 5_000)).counts.map((row) => row.created),
    [5],
  );
  assert.deepEqual(
    (await funnelFigures(store.db, clientA, window, null, 5_000)).times.map(({ bucket, count }) => ({ bucket, count })).sort((a, b) => a.bucket - b.bucket),
    [
      { bucket: timeBucket(500), count: 1 },
      { bucket: timeBucket(1_000), count: 1 },
    ],
    "each linked journey's time to link, in its bucket",
  );
  const attention = await connectionsNeedingAction(store.db, clientA, 5_000, 10);
  assert.deepEqual(
    attention.map((row) => Number(row.since)),
    [3_100],
    "the journey abandoned at the consent screen: not the linked, not the one still under way, not the one never opened",
  );
  assert.deepEqual(
    (await stepCounts(store.db, clientA, ["linked"], window)).map(({ integrationKey, count }) => ({ integrationKey, count })),
    [{ integrationKey: "sand", count: 2 }],
  );
});

test("an alert episode starts once and ends once, however many evaluations race for it", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA } = await seedTwoTenants(store);
  const ruleId = newId<InsightAlertId>();
  const rule = { name: "r", metric: "failures" as const, above: 1, window: "1h", windowMs: 3_600_000, minAttempts: 0, perIntegration: false };
  await store.transaction(({ tx }) => insertAlertRule(tx, { id: ruleId, clientId: clientA, rule, createdAt: 1 }));
  const starts = await Promise.all(
    [1, 2, 3].map((at) => store.transaction(({ tx }) => startEpisode(tx, { ruleId, clientId: clientA, subject: "*", startedAt: at }))),
  );
  assert.equal(starts.filter(Boolean).length, 1);
  assert.equal((await openEpisodes(store.db, ruleId)).size, 1);
  const ends = await Promise.all([1, 2].map(() => store.transaction(({ tx }) => endEpisode(tx, ruleId, "*"))));
  assert.equal(ends.filter(Boolean).length, 1);
  assert.equal((await openEpisodes(store.db, ruleId)).size, 0);
});
