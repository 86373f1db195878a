import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isoDate } from "../clock.ts";
import { loadConfig } from "../config.ts";
import { createApiKey, createClient } from "../domain/clients.ts";
import { evaluateAlertRules } from "../domain/insight-alerts.ts";
import { SANDBOX_CREDENTIALS } from "../integrations/sandbox/sandbox.ts";
import { startHookline } from "../server.ts";
import { apiCaller, freePort, openLinkPage, pressLinkButton } from "./demo.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAYS = 7;
/** The afternoon the sandbox "bank" fails most links: day 3, 12:00 to 18:00. */
const incident = (hour: number) => hour >= 2 * 24 + 12 && hour < 2 * 24 + 18;

/**
 * `hookline demo --insight`: a week of links through the sandbox's hosted
 * pages on a throwaway server whose clock the demo moves hour by hour (so a
 * week takes seconds), with an afternoon when most SMBs are refused; then
 * the funnel, the connections needing action and the alerts the rules raised.
 */
export async function runInsightDemo(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), "hookline-insight-demo-"));
  let now = Date.UTC(2026, 0, 5);
  const start = now;
  const config = loadConfig({}, { databaseUrl: `sqlite:${join(directory, "demo.db")}`, port: String(await freePort()), logLevel: "warn" });
  const hookline = await startHookline(config, { clock: { now: () => now } });
  // A seeded sequence, so every run tells the same week.
  let seed = 7;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  try {
    const client = await createClient(hookline.ctx, "Demo lender");
    const api = apiCaller(config.publicUrl, (await createApiKey(hookline.ctx, client.id, "demo")).apiKey);
    await api("POST", "/insights/alerts", { name: "Sandbox failing", metric: "failureRate", above: 0.3, window: "3h", minAttempts: 6, perIntegration: true });
    await api("POST", "/insights/alerts", { name: "No link in 4 hours", metric: "links", below: 1, window: "4h" });
    console.log(`A week of links from ${isoDate(start).slice(0, 10)}, through the sandbox's link pages...`);

    let links = 0;
    for (let hour = 0; hour < DAYS * 24; hour++) {
      const business = hour % 24 >= 8 && hour % 24 < 20;
      const count = business ? 4 : 1;
      for (let index = 0; index < count; index++) {
        now = start + hour * HOUR + Math.floor((index * HOUR) / count);
        const region = ["eu", "us", "uk"][links++ % 3]!;
        const company = await api("POST", "/companies", { name: `Shop ${links}`, tags: { region } });
        const connection = await api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" });
        const outcome = random();
        if (outcome < 0.05) continue; // never opened
        if (outcome < 0.09) {
          // Wrong credentials sent through the API.
          await api("PUT", `/companies/${company.id}/connections/${connection.id}/authorization`, { ...SANDBOX_CREDENTIALS, password: "guess" });
          continue;
        }
        const token = await openLinkPage(connection.linkUrl!);
        now += Math.floor(random() * 10 * MINUTE);
        if (outcome < 0.19) continue; // left on the consent screen
        await pressLinkButton(connection.linkUrl!, incident(hour) ? (random() < 0.7 ? "cancel" : "authorize") : outcome < 0.23 ? "cancel" : "authorize", token);
      }
      now = start + (hour + 1) * HOUR;
      await evaluateAlertRules(hookline.ctx);
    }
    // Two days later, so that the week's unfinished links count as abandoned.
    now = start + (DAYS + 2) * 24 * HOUR;

    type Figures = {
      created: number;
      opened: number;
      linked: number;
      failed: number;
      abandoned: number;
      conversionRate: number;
      medianTimeToLinkMs: number;
      p90TimeToLinkMs: number;
    };
    const insight = await api<{
      total: Figures & { topErrors: Array<{ statusCode: string; statusText: string; count: number }> };
      groups: Array<Figures & { key: string }>;
    }>("GET", `/insights/connections?since=${isoDate(start)}&until=${isoDate(start + DAYS * 24 * HOUR)}&groupBy=day`);
    const row = (label: string, figures: Figures) =>
      console.log(
        `${label.padEnd(12)} ${[figures.created, figures.opened, figures.linked, figures.failed, figures.abandoned].map((n) => String(n).padStart(10)).join("")}` +
          `${`${Math.round(figures.conversionRate * 100)}%`.padStart(12)}${`${Math.round(figures.medianTimeToLinkMs / MINUTE)} min`.padStart(10)}${`${Math.round(figures.p90TimeToLinkMs / MINUTE)} min`.padStart(10)}`,
      );
    console.log(
      `\n${"".padEnd(12)} ${["created", "opened", "linked", "failed", "abandoned"].map((h) => h.padStart(10)).join("")}${"conversion".padStart(12)}${"median".padStart(10)}${"p90".padStart(10)}`,
    );
    for (const group of insight.groups) row(group.key, group);
    row("week", insight.total);
    console.log("\nTop errors:");
    for (const error of insight.total.topErrors) console.log(`  ${error.statusCode} ${error.statusText}: ${error.count}`);
    const attention = await api<{ results: Array<{ reason: string }> }>("GET", "/insights/connections/attention?limit=500");
    const reasons = attention.results.reduce<Record<string, number>>((counts, item) => ({ ...counts, [item.reason]: (counts[item.reason] ?? 0) + 1 }), {});
    console.log(
      `\nNeeding action now: ${Object.entries(reasons)
        .map(([reason, count]) => `${count} ${reason}`)
        .join(", ")}`,
    );

    console.log("\nAlerts raised and resolved:");
    const messages = await api<{ results: Array<{ id: string; eventType: string }> }>(
      "GET",
      "/messages?eventType=connection.insight.alert&eventType=connection.insight.resolved&limit=100",
    );
    for (const message of messages.results.reverse()) {
      const { payload } = await api<{ payload: { generatedDate: string; payload: { name: string; value: number | null; figures: { attempts: number } } } }>(
        "GET",
        `/messages/${message.id}`,
      );
      const { name, value, figures } = payload.payload;
      console.log(
        `  ${payload.generatedDate.slice(0, 16).replace("T", " ")}  ${message.eventType.padEnd(28)} ${name} (value ${value}, ${figures.attempts} attempts)`,
      );
    }
  } finally {
    await hookline.close();
    rmSync(directory, { recursive: true, force: true });
  }
}
