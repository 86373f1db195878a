import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before } from "node:test";
import type { Browser, Page } from "playwright-core";
import { withBrowser } from "./browser.ts";
import { Receiver } from "./receiver.ts";
import { startTestServer, type TestServer } from "./server.ts";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** What a suite of portal pages shares: a server, a receiver and a browser. */
export interface PortalSuite {
  readonly server: TestServer;
  readonly receiver: Receiver;
  readonly browser: Browser;
}

/** Starts a server, a receiver and a browser before the suite's tests, and closes them after (the browser with the suite, not after its first test). */
export function portalSuite(): PortalSuite {
  let started: PortalSuite | undefined;
  before(async () => {
    started = { server: await startTestServer(), receiver: await Receiver.start(), browser: await withBrowser({ after: () => undefined }) };
  });
  after(async () => {
    await started?.browser.close();
    await started?.server.close();
    await started?.receiver.close();
  });
  const get = () => started ?? assert.fail("the suite has not started");
  return {
    get server() {
      return get().server;
    },
    get receiver() {
      return get().receiver;
    },
    get browser() {
      return get().browser;
    },
  };
}

/** Signs in on the portal's sign-in page with an API key, as a person would, and waits for the page it leads to. */
export async function signIn(page: Page, baseUrl: string, apiKey: string, next?: string): Promise<void> {
  if (next === undefined) await page.goto(`${baseUrl}/portal/sign-in`);
  await page.fill("#apiKey", apiKey);
  await Promise.all([page.waitForURL((url) => !url.pathname.endsWith("/sign-in")), page.click("button[type=submit]")]);
}

/**
 * Runs axe-core on the page and fails on serious or critical violations. The
 * script goes in through the debugger protocol (page.evaluate), which the
 * page's CSP does not govern, so the page is scanned as served.
 */
export async function assertAccessible(page: Page, name: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }> };
      }
    ).axe;
    const result = await axe.run();
    return result.violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical");
  });
  assert.deepEqual(
    violations.map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target.join(" ")).join(", ")})`),
    [],
    `serious or critical accessibility violations on ${name}`,
  );
}

/** Collects what the browser reports as script errors and CSP refusals, to assert there were none. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    // A refused form answers 400 or 403 on purpose (the tests assert those); CSP refusals and script errors are what this catches.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) errors.push(message.text());
  });
  return errors;
}
