import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isoDate } from "../clock.ts";
import { loadConfig } from "../config.ts";
import { createApiKey, createClient } from "../domain/clients.ts";
import { evaluateAlertRules } from "../domain/insight-alerts.ts";
import { SANDBOX_CREDENTIALS } from "../integrations/sandbox/sandbox.ts";
import { startHookline } from "../server.ts";
import { createHooklineClient } from "../client/index.ts";
import { answered, freePort, openLinkPage, pressLinkButton } from "./demo.ts";

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
    const api = createHooklineClient({ baseUrl: config.publicUrl, apiKey: (await createApiKey(hookline.ctx, client.id, "demo")).apiKey });
    for (const rule of [
      { name: "Sandbox failing", metric: "failureRate", above: 0.3, window: "3h", minAttempts: 6, perIntegration: true },
      { name: "No link in 4 hours", metric: "links", below: 1, window: "4h" },
    ] as const)
      answered("POST /insights/alerts", await api.POST("/insights/alerts", { body: rule }));
    console.log(`A week of links from ${isoDate(start).slice(0, 10)}, through the sandbox's link pages...`);

    let links = 0;
    for (let hour = 0; hour < DAYS * 24; hour++) {
      const business = hour % 24 >= 8 && hour % 24 < 20;
      const count = business ? 4 : 1;
      for (let index = 0; index < count; index++) {
        now = start + hour * HOUR + Math.floor((index * HOUR) / count);
        const region = ["eu", "us", "uk"][links++ % 3]!;
        const company = answered("POST /companies", await api.POST("/companies", { body: { name: `Shop ${links}`, tags: { region } } }));
        const connection = answered(
          "POST /companies/{companyId}/connections",
          await api.POST("/companies/{companyId}/connections", { params: { path: { companyId: company.id } }, body: { platformKey: "sand" } }),
        );
        const outcome = random();
        if (outcome < 0.05) continue; // never opened
        if (outcome < 0.09) {
          // Wrong credentials sent through the API.
          answered(
            "PUT /companies/{companyId}/connections/{connectionId}/authorization",
            await api.PUT("/companies/{companyId}/connections/{connectionId}/authorization", {
              params: { path: { companyId: company.id, connectionId: connection.id } },
              body: { ...SANDBOX_CREDENTIALS, password: "guess" },
            }),
          );
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

    const insight = answered(
      "GET /insights/connections",
      await api.GET("/insights/connections", { params: { query: { since: isoDate(start), until: isoDate(start + DAYS * 24 * HOUR), groupBy: "day" } } }),
    );
    type Figures = (typeof insight)["total"];
    // A figure of no links at all (no conversion rate, no time to link) shows as "-".
    const shown = (value: number | null, as: (value: number) => string) => (value === null ? "-" : as(value));
    const row = (label: string, figures: Figures) =>
      console.log(
        `${label.padEnd(12)} ${[figures.created, figures.opened, figures.linked, figures.failed, figures.abandoned].map((n) => String(n).padStart(10)).join("")}` +
          shown(figures.conversionRate, (rate) => `${Math.round(rate * 100)}%`).padStart(12) +
          [figures.medianTimeToLinkMs, figures.p90TimeToLinkMs].map((ms) => shown(ms, (value) => `${Math.round(value / MINUTE)} min`).padStart(10)).join(""),
      );
    console.log(
      `\n${"".padEnd(12)} ${["created", "opened", "linked", "failed", "abandoned"].map((h) => h.padStart(10)).join("")}${"conversion".padStart(12)}${"median".padStart(10)}${"p90".padStart(10)}`,
    );
    for (const group of insight.groups) row(group.key ?? "-", group);
    row("week", insight.total);
    console.log("\nTop errors:");
    for (const error of insight.total.topErrors) console.log(`  ${error.statusCode} ${error.statusText}: ${error.count}`);
    const attention = answered("GET /insights/connections/attention", await api.GET("/insights/connections/attention", { params: { query: { limit: 500 } } }));
    const reasons = attention.results.reduce<Record<string, number>>((counts, item) => ({ ...counts, [item.reason]: (counts[item.reason] ?? 0) + 1 }), {});
    console.log(
      `\nNeeding action now: ${Object.entries(reasons)
        .map(([reason, count]) => `${count} ${reason}`)
        .join(", ")}`,
    );

    console.log("\nAlerts raised and resolved:");
    const messages = answered(
      "GET /messages",
      await api.GET("/messages", { params: { query: { eventType: ["connection.insight.alert", "connection.insight.resolved"], limit: 100 } } }),
    );
    for (const message of messages.results.reverse()) {
      const { payload } = answered(
        "GET /messages/{messageId}",
        await api.GET("/messages/{messageId}", { params: { path: { messageId: message.id } } }),
      ) as unknown as {
        payload: { generatedDate: string; payload: { name: string; value: number | null; figures: { attempts: number } } };
      };
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
