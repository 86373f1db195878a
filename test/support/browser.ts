import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's Chromium, which Playwright drives (playwright-core ships no browser of its own). */
export const CHROMIUM_PATH = process.env.HOOKLINE_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** Where every page test saves its screenshots; CI keeps the folder as an artifact. */
export const SCREENSHOT_DIR = join("test-results", "screenshots");

/**
 * Why the page tests cannot run here: no Chromium installed. False when it
 * is, and under HOOKLINE_REQUIRE_BROWSER=1 (as in CI), where a missing
 * Chromium is not skipped: the suites run and fail on the launch.
 */
export const browserMissing: string | false =
  existsSync(CHROMIUM_PATH) || process.env.HOOKLINE_REQUIRE_BROWSER === "1"
    ? false
    : `SKIPPED: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set HOOKLINE_TEST_CHROMIUM)`;

/**
 * The `skip` option of a suite that drives a browser, which the test report
 * prints beside each skipped test: without Chromium, and in the PostgreSQL
 * pass. Pages call the same domain operations as the API, and what those
 * store is tested on both databases by the API and storage suites, so the
 * pages run once, in the SQLite pass, which keeps the whole suite within its
 * time.
 */
export const skipWithoutBrowser: string | false =
  browserMissing !== false
    ? browserMissing
    : process.env.HOOKLINE_TEST_DIALECT === "postgres"
      ? "pages run in the SQLite pass; what they store is tested on both databases by the API and storage suites"
      : false;

/**
 * Chromium, headless, closed after the test. The flags keep it from reaching
 * for Google's services at start (the machine's network is closed, and every
 * refused connection slows it down); a fresh profile per launch.
 */
export async function withBrowser(t: TestContext | { after(fn: () => Promise<void>): void }): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  t.after(() => browser.close());
  return browser;
}

/**
 * Saves the page as `<name>.png` among the screenshots, the whole page.
 * Returns the file's path. The text caret is left as it is: hiding it takes
 * an inline style, which the pages' CSP refuses (and reports in the console).
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true, caret: "initial" });
  return path;
}
