import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { screenshot, skipWithoutBrowser, withBrowser } from "./support/browser.ts";
import { CLI } from "./support/cli.ts";
import { until } from "./support/wait.ts";

test(
  "npm run demo -- --oauth: linking through the local provider in a browser shows connection.connected, then a forced connection.disconnected",
  { skip: skipWithoutBrowser },
  async (t) => {
    const child = spawn(process.execPath, [CLI, "demo", "--oauth"], { stdio: ["ignore", "pipe", "pipe"] });
    t.after(() => {
      if (child.exitCode === null) child.kill();
    });
    let output = "";
    let errors = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (errors += chunk.toString("utf8")));
    const exited = once(child, "exit");
    // The person running the demo reads the link it prints and opens it in a browser.
    const linkUrl = await until(
      "the demo's link",
      async () => /^\s+(http:\/\/\S+\/link\/\S+)$/m.exec(output)?.[1],
      (url) => url !== undefined,
    );
    const page = await (await withBrowser(t)).newPage();
    await page.goto(linkUrl!);
    await page.click("#continue");
    await page.fill("input[name=login]", "customer");
    await page.fill("input[name=password]", "any password");
    await page.click("button[type=submit]");
    await page.waitForSelector("text=Continue");
    await page.click("button[type=submit]");
    await page.waitForURL(/\/link\/oauth\/callback/);
    await screenshot(page, "oauth-demo-linked");

    const [code] = await exited;
    assert.equal(code, 0, `${output}\n${errors}`);
    assert.match(output, /connection\.connected, signature verified/);
    assert.match(output, /connection\.disconnected, signature verified/);
    assert.match(output, /"status": "Deauthorized"/);
    assert.match(output, /"errorMessage": "Access revoked at Demo Books"/);
  },
);
