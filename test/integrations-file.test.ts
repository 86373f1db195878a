import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { CLI, runCliWith } from "./support/cli.ts";
import { createTestDatabase } from "./support/database.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { withServer } from "./support/server.ts";

const folder = mkdtempSync(join(tmpdir(), "hookline-integrations-file-"));
after(() => rmSync(folder, { recursive: true, force: true }));

const oauth2 = (clientSecret: string) => ({
  authorizeUrl: "https://books.example/oauth/authorize",
  tokenUrl: "https://books.example/oauth/token",
  clientId: "hookline",
  clientSecret,
  scopes: ["accounting.read", "offline_access"],
});

describe("the integrations file", () => {
  test("a sealed client secret, a logo and a switched-off sandbox: the API lists what the file declares", async (t) => {
    const database = await createTestDatabase();
    t.after(() => database.drop());
    const env = { HOOKLINE_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64") };
    // The operator seals each client secret with the CLI, under the deployment's key, and writes the file with it.
    const seal = async (platformKey: string, secret: string) => {
      const run = promisify(execFile)(process.execPath, [CLI, "--database-url", database.url, "integrations", "seal-secret", platformKey], {
        env: { ...process.env, HOOKLINE_LOG_LEVEL: "silent", ...env },
      });
      run.child.stdin!.end(`${secret}\n`);
      return (await run).stdout.trim();
    };
    const acmeSecret = await seal("acme", "the provider's client secret");
    assert.match(acmeSecret, /^v2\./);
    assert.ok(!acmeSecret.includes("client secret"));
    writeFileSync(join(folder, "acme.png"), Buffer.from("89504e470d0a1a0a", "hex"));
    const file = join(folder, "sealed.yaml");
    const write = (zetaSecret: string) =>
      writeFileSync(
        file,
        stringify({
          sandbox: { enabled: false },
          integrations: [
            { platformKey: "acme", name: "Acme Books", sourceType: "Accounting", logo: "acme.png", kind: "oauth2", oauth2: oauth2(acmeSecret) },
            { platformKey: "zeta", name: "Zeta Bank", sourceType: "Banking", enabled: false, kind: "oauth2", oauth2: oauth2(zetaSecret) },
          ],
        }),
      );
    // A secret sealed for acme does not open for another integration.
    write(acmeSecret);
    await assert.rejects(runCliWith({ ...env, HOOKLINE_INTEGRATIONS_FILE: file }, database.url, "migrate"), (error: { stderr: string }) => {
      assert.ok(error.stderr.includes(`Integrations file ${file}: /integrations/1/oauth2/clientSecret does not open`), error.stderr);
      assert.match(error.stderr, /hookline integrations seal-secret zeta/);
      return true;
    });

    write(await seal("zeta", "zeta secret"));
    const server = await withServer(t, { integrationsFile: file, encryptionKey: env.HOOKLINE_ENCRYPTION_KEY });
    const listed = (await server.api("GET", "/integrations")).body.results;
    assert.deepEqual(
      listed.map((integration: { key: string; enabled: boolean; sourceType: string }) => [integration.key, integration.enabled, integration.sourceType]),
      [
        ["acme", true, "Accounting"],
        ["zeta", false, "Banking"],
      ],
    );
    const logo = await fetch(listed[0].logoUrl);
    assert.equal(logo.headers.get("content-type"), "image/png");
    assert.deepEqual(Buffer.from(await logo.arrayBuffer()), Buffer.from("89504e470d0a1a0a", "hex"));
    assert.equal((await server.api("GET", "/integrations/acme/branding")).body.logo.full.image.src, listed[0].logoUrl);

    const company = (await server.api("POST", "/companies", { name: "Harbour Bakery" })).body;
    assertErrorMessage(await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "sand" }), 404, "the sandbox is off");
    assertErrorMessage(await server.api("POST", `/companies/${company.id}/connections`, { platformKey: "zeta" }), 400, "zeta is disabled", /not enabled/);
    assert.equal((await server.api("GET", `/companies/${company.id}/connections`)).body.totalResults, 0);
    assert.ok(!server.logs().includes("the provider's client secret"));

    // The CLI shows what the configuration offers, and checks a file without starting anything; never a secret.
    const cliEnv = { ...env, HOOKLINE_INTEGRATIONS_FILE: file };
    const listedByCli = (await runCliWith(cliEnv, server.database.url, "integrations", "list", "--json")).stdout;
    assert.deepEqual(JSON.parse(listedByCli), [
      { platformKey: "acme", name: "Acme Books", kind: "oauth2", sourceType: "Accounting", enabled: true },
      { platformKey: "zeta", name: "Zeta Bank", kind: "oauth2", sourceType: "Banking", enabled: false },
    ]);
    const table = (await runCliWith(cliEnv, server.database.url, "integrations", "list")).stdout;
    assert.match(table, /^KEY\s+NAME\s+KIND\s+SOURCE\s+ENABLED\n/);
    assert.match(table, /zeta\s+Zeta Bank\s+oauth2\s+Banking\s+false/);
    for (const output of [listedByCli, table]) assert.ok(!output.includes(acmeSecret) && !output.includes("client secret"), "no secret, sealed or not");
    const checked = await runCliWith(env, database.url, "integrations", "check", file);
    assert.equal(checked.stdout.trim(), `Integrations file ${file}: valid; offers acme, zeta (disabled).`);
    // Without a file, the built-in sandbox is all there is.
    assert.deepEqual(JSON.parse((await runCliWith(env, server.database.url, "integrations", "list", "--json")).stdout), [
      { platformKey: "sand", name: "Hookline Sandbox", kind: "sandbox", sourceType: "Banking", enabled: true },
    ]);
  });

  const bad: Array<[string, string, RegExp]> = [
    ["not-yaml.yaml", "integrations: [\n  - platformKey: acme\n  name", /not valid YAML/],
    [
      "bad-key.yaml",
      "integrations:\n  - platformKey: ACME1\n    name: Acme\n    sourceType: Accounting\n    kind: oauth2\n    oauth2: {}",
      /\/integrations\/0\/platformKey must match pattern/,
    ],
    ["unknown.json", JSON.stringify({ integrations: [], extra: true }), /must NOT have additional properties/],
    [
      "plaintext.yaml",
      `integrations:\n  - platformKey: acme\n    name: Acme\n    sourceType: Accounting\n    kind: oauth2\n    oauth2: ${JSON.stringify(oauth2("plain secret"))}`,
      /clientSecret must match pattern/,
    ],
    [
      "no-logo.yaml",
      `integrations:\n  - platformKey: acme\n    name: Acme\n    sourceType: Accounting\n    logo: missing.svg\n    kind: oauth2\n    oauth2: ${JSON.stringify(oauth2("v2.abc.def"))}`,
      /logo missing.svg was not found/,
    ],
    [
      "no-credentials.yaml",
      "integrations:\n  - platformKey: vaul\n    name: Vault Bank\n    sourceType: Banking\n    kind: credentials",
      /\/integrations\/0 must have required property 'credentials'/,
    ],
    [
      "repeated-field.yaml",
      "integrations:\n  - platformKey: vaul\n    name: Vault Bank\n    sourceType: Banking\n    kind: credentials\n    credentials:\n      verifyUrl: https://verify.example.com/\n      fields: [{ name: user, label: User }, { name: user, label: Login }]",
      /\/integrations\/0\/credentials\/fields repeats the field name "user"/,
    ],
  ];
  for (const [name, content, reason] of bad) {
    test(`a bad file (${name}) stops the start with its path and the reason`, async (t) => {
      const database = await createTestDatabase();
      t.after(() => database.drop());
      const file = join(folder, name);
      writeFileSync(file, content);
      await assert.rejects(
        runCliWith({ HOOKLINE_INTEGRATIONS_FILE: file, HOOKLINE_PORT: "0" }, database.url, "serve"),
        (error: { stderr: string; code: number }) => {
          assert.equal(error.code, 1);
          assert.ok(error.stderr.includes(`Integrations file ${file}:`), error.stderr);
          assert.match(error.stderr, reason);
          return true;
        },
      );
      // `integrations check` says the same, without a server or a database.
      await assert.rejects(runCliWith({}, database.url, "integrations", "check", file), (error: { stderr: string; code: number }) => {
        assert.equal(error.code, 1);
        assert.ok(error.stderr.includes(`Integrations file ${file}:`), error.stderr);
        assert.match(error.stderr, reason);
        return true;
      });
    });
  }
});
