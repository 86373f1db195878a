import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CLI } from "./support/cli.ts";
import { testDialect } from "./support/database.ts";
import { freePort } from "./support/server.ts";
import { until } from "./support/wait.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);

/**
 * The package as users get it: packed, installed globally into a prefix of
 * its own, and run from a folder that has nothing of the project. It is
 * about packaging, not the database, so it runs in the SQLite pass only;
 * installing needs the registry (or npm's cache, warm after `npm ci`).
 */
test(
  "npm pack makes a tarball that installs globally and runs `hookline serve` from any folder",
  { skip: testDialect === "sqlite" ? false : "the package is tested in the SQLite pass", timeout: 15 * 60_000 },
  async (t) => {
    assert.ok(existsSync(CLI), "built");
    const scratch = mkdtempSync(join(tmpdir(), "hookline-package-"));
    t.after(() => rmSync(scratch, { recursive: true, force: true }));
    // What `npm test` built: packing does not build again.
    const packed = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", scratch], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const { filename, files } = (JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
    const paths = files.map((file) => file.path);
    for (const needed of [
      "bin/hookline.js",
      "dist/cli/main.js",
      "dist/web/templates/layout.eta",
      "dist/client/index.d.ts",
      "dist/client/schema.d.ts",
      "openapi/codat-platform-openapi.json",
    ]) {
      assert.ok(paths.includes(needed), `the tarball holds ${needed}`);
    }
    assert.ok(!paths.some((path) => path.startsWith("src/") || path.startsWith("test/")), "and neither the sources nor the tests");

    const prefix = join(scratch, "prefix");
    const environment = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("HOOKLINE_") && name !== "DATABASE_URL"));
    await run(
      "npm",
      [
        "install",
        "--global",
        "--prefix",
        prefix,
        join(scratch, filename),
        "--omit=dev",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--allow-scripts=better-sqlite3",
      ],
      { cwd: scratch, env: environment, maxBuffer: 16 * 1024 * 1024 },
    );

    const elsewhere = join(scratch, "elsewhere");
    mkdirSync(elsewhere);
    const port = await freePort();
    const serve = spawn(join(prefix, "bin", "hookline"), ["serve", "--port", String(port)], {
      cwd: elsewhere,
      env: environment,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    for (const stream of [serve.stdout, serve.stderr]) stream.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const exited = once(serve, "close");
    t.after(async () => {
      if (serve.exitCode === null) serve.kill("SIGKILL");
      await exited;
    });
    const document = await until(
      "the installed server to answer /openapi.json",
      async () => {
        assert.equal(serve.exitCode, null, `hookline serve exited:\n${output}`);
        return fetch(`http://127.0.0.1:${port}/openapi.json`).then(
          async (response) => (response.ok ? ((await response.json()) as { info: { title: string }; paths: Record<string, unknown> }) : null),
          () => null,
        );
      },
      (answer) => answer !== null,
    );
    assert.equal(document!.info.title, "Hookline API");
    assert.ok(document!.paths["/webhooks/{webhookId}/retry-now"]);
    assert.ok(existsSync(join(elsewhere, "data", "hookline.db")), "its database is made in the folder it runs from");
    // Printed once the API answers.
    const apiKey = (await until(
      "the first start's API key",
      async () => /API key \(shown once[^)]*\): (\S+)/.exec(output)?.[1],
      (key) => key !== undefined,
    ))!;

    // The package's typed client, imported by its name as a user's script would.
    const script = join(prefix, "lib", "check-client.mjs");
    writeFileSync(
      script,
      `import { createHooklineClient } from "hookline/client";
const client = createHooklineClient({ baseUrl: process.argv[2], apiKey: process.argv[3] });
const { data, response } = await client.GET("/messages", {});
console.log(JSON.stringify({ status: response.status, results: data.results.length }));`,
    );
    const checked = await run(process.execPath, [script, `http://127.0.0.1:${port}`, apiKey], { cwd: elsewhere, env: environment });
    assert.deepEqual(JSON.parse(checked.stdout), { status: 200, results: 0 });

    serve.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0, `a graceful stop:\n${output}`);
  },
);
