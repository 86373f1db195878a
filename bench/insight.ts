/**
 * `node --import tsx bench/insight.ts`: how long the connection insight
 * answers take with a million connections and their steps. The journeys are
 * written straight into the tables (recording a million through the link
 * pages would take hours), then the domain operations the routes call are
 * timed, each run a few times after one warm-up.
 */
import { parseArgs } from "node:util";
import { sql, type Insertable } from "kysely";
import { loadConfig } from "../src/config.ts";
import { connectionInsight, connectionsNeedingAttention } from "../src/domain/insight.ts";
import { createAlertRule, evaluateAlertRules } from "../src/domain/insight-alerts.ts";
import { asId, newId, type ClientId, type CompanyId, type ConnectionId } from "../src/ids.ts";
import { createLogger } from "../src/logger.ts";
import { openContext } from "../src/server.ts";
import { rebuildLinkRollups, recordStep } from "../src/storage/link-funnels.ts";
import type { LinkStepsTable } from "../src/storage/schema.ts";
import { createTestDatabase, encryptionKeyFor } from "../test/support/database.ts";

const { values: flags } = parseArgs({
  options: {
    connections: { type: "string", default: "1000000" },
    companies: { type: "string", default: "10000" },
    dialect: { type: "string", default: "sqlite" },
    runs: { type: "string", default: "5" },
    // A database an earlier run of this bench wrote (and `--keep` kept): only the answers are timed again.
    database: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const CONNECTIONS = Number(flags.connections);
const COMPANIES = Number(flags.companies);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ERRORS = [
  ["403", "User cancelled linking"],
  ["401", "Unauthorized"],
  ["500", "Bank unavailable"],
  ["429", "Too many requests"],
] as const;
const INTEGRATIONS = ["sand", "gbol", "qhyg", "xero"];
const REGIONS = ["eu", "us", "uk", "au"];

const database = flags.database
  ? { url: flags.database, drop: async () => undefined }
  : await createTestDatabase(flags.dialect === "postgres" ? "postgres" : "sqlite");
const encryptionKey = encryptionKeyFor(database.url);
const config = loadConfig({}, { databaseUrl: database.url, ...(encryptionKey && { encryptionKey }) });
const ctx = await openContext(config, createLogger("warn"));
const clientId = asId<ClientId>("insight-bench");
const now = Date.now();

/** A seeded random sequence, so that every run writes the same journeys. */
let seed = 42;
const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;

const companyIds = Array.from({ length: COMPANIES }, (_, index) => asId<CompanyId>(`00000000-0000-7000-8000-${String(index).padStart(12, "0")}`));
const started = performance.now();
if (!flags.database) {
  await writeJourneys();
  // The roll-ups the recording of steps keeps, built from the journeys written straight into the tables: as migration 026 does.
  const rollingUp = performance.now();
  await rebuildLinkRollups(ctx.store.db);
  process.stdout.write(`roll-ups built in ${((performance.now() - rollingUp) / 1000).toFixed(1)} s\n`);
}
// Both dialects plan with statistics; a real database has them from autovacuum or `PRAGMA optimize`.
await sql`ANALYZE`.execute(ctx.store.db);
const stepsTotal = await ctx.store.db
  .selectFrom("link_steps")
  .select((eb) => eb.fn.countAll<number | string>().as("count"))
  .executeTakeFirstOrThrow();
const funnelsTotal = await ctx.store.db
  .selectFrom("link_funnels")
  .select((eb) => eb.fn.countAll<number | string>().as("count"))
  .executeTakeFirstOrThrow();
process.stdout.write(
  `${ctx.store.dialect.name}: ${funnelsTotal.count} connections and ${stepsTotal.count} steps of one client, ready in ${((performance.now() - started) / 1000).toFixed(0)} s\n\n`,
);

/** Writes the companies and a week of journeys of the bench's client. */
async function writeJourneys(): Promise<void> {
  await ctx.store.db.insertInto("clients").values({ id: clientId, name: "Bench", created_at: now }).execute();
  for (let start = 0; start < COMPANIES; start += 1000) {
    const ids = companyIds.slice(start, start + 1000);
    await ctx.store.transaction(async ({ tx }) => {
      await tx
        .insertInto("companies")
        .values(ids.map((id) => ({ id, client_id: clientId, name: "Shop", description: null, created_at: now - 30 * DAY })))
        .execute();
      await tx
        .insertInto("company_tags")
        .values(ids.map((id, index) => ({ company_id: id, client_id: clientId, key: "region", value: REGIONS[(start + index) % REGIONS.length]! })))
        .execute();
    });
  }
  // A week of journeys: 70% linked within two hours, 15% failed, 10% abandoned on the consent screen, 5% never opened.
  const BATCH = 500;
  for (let start = 0; start < CONNECTIONS; start += 10 * BATCH) {
    await ctx.store.transaction(async ({ tx }) => {
      for (let offset = start; offset < Math.min(start + 10 * BATCH, CONNECTIONS); offset += BATCH) {
        const funnels = [];
        const steps: Array<Insertable<LinkStepsTable>> = [];
        for (let index = offset; index < Math.min(offset + BATCH, CONNECTIONS); index++) {
          const connectionId = asId<ConnectionId>(newId());
          const integrationKey = INTEGRATIONS[index % INTEGRATIONS.length]!;
          const createdAt = now - Math.floor(random() * 7 * DAY);
          const outcome = random();
          const opened = outcome < 0.95 ? createdAt + Math.floor(random() * HOUR) : null;
          const linked = outcome < 0.7 ? opened! + Math.floor(random() * HOUR) : null;
          const failed = outcome >= 0.7 && outcome < 0.85 ? opened! + Math.floor(random() * HOUR) : null;
          const error = ERRORS[index % ERRORS.length]!;
          funnels.push({
            connection_id: connectionId,
            client_id: clientId,
            company_id: companyIds[index % COMPANIES]!,
            integration_key: integrationKey,
            created_at: createdAt,
            opened_at: opened,
            chosen_at: null,
            redirected_at: opened,
            returned_at: linked ?? failed,
            linked_at: linked,
            failed_at: failed,
            failures: failed === null ? 0 : 1,
            error_status_code: failed === null ? null : error[0],
            error_status_text: failed === null ? null : error[1],
            error_message: failed === null ? null : error[1],
            disconnected_at: null,
            deauthorized_at: null,
            reconnected_at: null,
            reminded_at: null,
          });
          const step = (name: "created" | "opened" | "redirected" | "returned" | "linked" | "failed", at: number | null) =>
            at !== null &&
            steps.push({
              id: newId(),
              client_id: clientId,
              connection_id: connectionId,
              integration_key: integrationKey,
              step: name,
              at,
              status_code: name === "failed" ? error[0] : null,
              status_text: name === "failed" ? error[1] : null,
              error_message: name === "failed" ? error[1] : null,
            });
          step("created", createdAt);
          step("opened", opened);
          step("redirected", opened);
          step("returned", linked ?? failed);
          step("linked", linked);
          step("failed", failed);
        }
        await tx.insertInto("link_funnels").values(funnels).execute();
        for (let from = 0; from < steps.length; from += BATCH)
          await tx
            .insertInto("link_steps")
            .values(steps.slice(from, from + BATCH))
            .execute();
      }
    });
  }
}

/** The median of `runs` timings after one warm-up, in ms. */
async function timed(what: string, operation: () => Promise<unknown>): Promise<void> {
  await operation();
  const times: number[] = [];
  for (let run = 0; run < Number(flags.runs); run++) {
    const begin = performance.now();
    await operation();
    times.push(performance.now() - begin);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(`| ${what} | ${times[Math.floor(times.length / 2)]!.toFixed(0)} | ${times.at(-1)!.toFixed(0)} |\n`);
}

process.stdout.write("| answer | median ms | slowest ms |\n|---|---:|---:|\n");
const day = new Date(now - DAY).toISOString();
const yesterday = { since: new Date(now - (now % DAY) - DAY).toISOString(), until: new Date(now - (now % DAY)).toISOString() };
await timed("figures, the last 24 hours", () => connectionInsight(ctx, clientId, { since: day }));
await timed("figures, yesterday (a whole UTC day)", () => connectionInsight(ctx, clientId, yesterday));
await timed("figures, the last 24 hours, by integration", () => connectionInsight(ctx, clientId, { since: day, groupBy: "integration" }));
await timed("figures, the last 24 hours, by tag:region", () => connectionInsight(ctx, clientId, { since: day, groupBy: "tag:region" }));
await timed("figures, the week (every connection)", () => connectionInsight(ctx, clientId, {}));
await timed("figures, the week, by integration", () => connectionInsight(ctx, clientId, { groupBy: "integration" }));
await timed("figures, the week, by errorCode", () => connectionInsight(ctx, clientId, { groupBy: "errorCode" }));
await timed("figures, the week, by day", () => connectionInsight(ctx, clientId, { groupBy: "day" }));
await timed("figures, the week, by tag:region", () => connectionInsight(ctx, clientId, { groupBy: "tag:region" }));
await timed("attention list (100)", () => connectionsNeedingAttention(ctx, clientId, 100));
await createAlertRule(ctx, clientId, { name: "failing", metric: "failureRate", above: 0.3, window: "1h", minAttempts: 20, perIntegration: true });
await timed("alert rule evaluation (one rule, 1 h per integration)", () => evaluateAlertRules(ctx));
const journey = { clientId, companyId: companyIds[0]!, integrationKey: "sand", createdAt: now, at: now };
await timed("recording one step", () => recordStep(ctx.store, { ...journey, connectionId: asId<ConnectionId>(newId()), step: "opened" }));

await ctx.store.close();
if (!flags.keep) await database.drop();
else process.stdout.write(`\nKept: --database ${database.url}\n`);
