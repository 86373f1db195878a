#!/usr/bin/env node
import { Command, Option } from "commander";
import { loadConfig, type ConfigOverrides } from "../config.ts";
import { createApiKey, createClient, deleteApiKey, findClient, listApiKeys, listClients } from "../domain/clients.ts";
import { getSigningSecret } from "../domain/consumers.ts";
import type { AppContext } from "../domain/context.ts";
import { OPENAPI_PATH } from "../http/routes/openapi.ts";
import { startHookline } from "../server.ts";
import { defaultClient, describeDatabase, openCliContext } from "./context.ts";
import { runDemo } from "./demo.ts";
import { runInsightDemo } from "./insight-demo.ts";
import { runOAuthDemo } from "./oauth-demo.ts";
import { webhookCommands } from "./webhooks.ts";
import { eventCommands } from "./events.ts";
import { messageCommands } from "./messages.ts";
import { encryptionCommands } from "./encryption.ts";
import { backupCommand } from "./backup.ts";
import { integrationCommands } from "./integrations.ts";
import { operatorTokenCommands } from "./operator-tokens.ts";
import { jsonOption, printList } from "./output.ts";
import { resourceCommands } from "./resources.ts";
import { listenCommand } from "./listen.ts";
import { asId, type ApiKeyId, type ClientId, type ConsumerId } from "../ids.ts";

const program = new Command()
  .name("hookline")
  .description("Hookline: connection events and signed webhooks, Codat Platform API compatible.")
  .addOption(new Option("--database-url <url>", "sqlite:<path> or postgres://...").env("HOOKLINE_DATABASE_URL"))
  .showHelpAfterError();

function overrides(): ConfigOverrides {
  const { databaseUrl } = program.opts<{ databaseUrl?: string }>();
  return databaseUrl ? { databaseUrl } : {};
}

/** The command's database, opened once (the default --client reads it before the command runs). */
let context: Promise<AppContext> | undefined;
const contextOf = (create: boolean) => (context ??= openCliContext(loadConfig(process.env, overrides()), create));

/**
 * Runs a command against the database and closes it, whatever happens. Log lines go to standard error, apart from
 * the command's output. Only `create` commands may make a database that does not exist yet.
 */
async function withContext(work: (ctx: AppContext) => Promise<void>, { create = false } = {}): Promise<void> {
  const ctx = await contextOf(create);
  try {
    await work(ctx);
  } finally {
    await ctx.transformations.stop();
    await ctx.store.close();
  }
}

program
  .command("serve")
  .description("Start the API and the delivery worker (or one of them, with --roles)")
  .option("--host <host>", "interface to listen on (HOOKLINE_HOST, default 127.0.0.1)")
  .option("--port <port>", "port to listen on (HOOKLINE_PORT, default 8080)")
  .option("--roles <roles>", "api, worker or api,worker (HOOKLINE_ROLES, default both)")
  .option("--metrics-port <port>", "without the api role: serve /healthz, /readyz and /metrics on this port (HOOKLINE_METRICS_PORT)")
  .action(async (options: { host?: string; port?: string; roles?: string; metricsPort?: string }) => {
    const config = loadConfig(process.env, { ...overrides(), ...options });
    const starting = startHookline(config);
    // Signals are handled from the start: one that arrives while Hookline is still starting stops it once it has.
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await (await starting).close();
      process.exit(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    const hookline = await starting;
    if (!config.roles.api && config.metricsPort !== null) announce([`Worker metrics: http://${config.host}:${config.metricsPort}/metrics`]);
    if (config.roles.api && !stopping) {
      const lines = [
        `Hookline API:     ${config.publicUrl}`,
        `OpenAPI document: ${config.publicUrl}${OPENAPI_PATH}`,
        `Database:         ${describeDatabase(config.databaseUrl)}`,
      ];
      if ((await listClients(hookline.ctx)).length === 0) {
        // First start: make a client so the API is usable at once. The key is shown this one time only.
        const client = await createClient(hookline.ctx, "Default client");
        const key = await createApiKey(hookline.ctx, client.id, "first key");
        lines.push(
          `Created client "${client.name}" (${client.id}).`,
          `API key (shown once; send it as "Authorization: Basic <base64 of the key>"): ${key.apiKey}`,
        );
      }
      announce(lines);
    }
  });

/**
 * What the person starting the server needs, as a block of its own on
 * standard error: standard output carries only the JSON log lines, which log
 * collectors keep, and the first start's API key must never be among them.
 */
function announce(lines: string[]): void {
  const rule = "-".repeat(72);
  process.stderr.write(`\n${rule}\n${lines.join("\n")}\n${rule}\n\n`);
}

program
  .command("migrate")
  .description("Create or upgrade the database schema (and encrypt secrets an earlier release stored in plaintext), then exit")
  .action(() => withContext(async () => console.log("Database is up to date."), { create: true }));

const clients = program.command("clients").description("Manage clients (tenants)");
clients
  .command("create <name>")
  .description("Create a client and its first API key")
  .action((name: string) =>
    withContext(async (ctx) => {
      const client = await createClient(ctx, name);
      const key = await createApiKey(ctx, client.id, "first key");
      console.log(JSON.stringify({ clientId: client.id, name: client.name, apiKeyId: key.id, apiKey: key.apiKey }, null, 2));
    }),
  );
clients
  .command("list")
  .description("List clients")
  .addOption(jsonOption())
  .action((options: { json?: boolean }) =>
    withContext(async (ctx) => {
      const found = await listClients(ctx);
      printList(options, found, found, { ID: (client) => client.id, NAME: (client) => client.name });
    }),
  );

const clientOption = new Option("--client <clientId>", "the client (see `clients list`); may be left out when there is only one");
// A command left without --client acts for the database's only client.
program.hook("preAction", async (_program, action) => {
  if (action.options.some((option) => option.attributeName() === "client") && action.getOptionValue("client") === undefined) {
    action.setOptionValue("client", await defaultClient(await contextOf(false)));
  }
});
const keys = program.command("keys").description("Manage a client's API keys");
keys
  .command("create")
  .addOption(clientOption)
  .option("--name <name>", "a label for the key")
  .description("Create an API key (shown once)")
  .action((options: { client: string; name?: string }) =>
    withContext(async (ctx) => {
      const clientId = asId<ClientId>(options.client);
      await findClient(ctx, clientId);
      console.log(JSON.stringify(await createApiKey(ctx, clientId, options.name ?? null), null, 2));
    }),
  );
keys
  .command("list")
  .addOption(clientOption)
  .addOption(jsonOption())
  .description("List API keys (last four characters only)")
  .action((options: { client: string; json?: boolean }) =>
    withContext(async (ctx) => {
      const found = await listApiKeys(ctx, asId<ClientId>(options.client));
      printList(options, found, found, { ID: (key) => key.id, NAME: (key) => key.name, KEY: (key) => key.apiKey, CREATED: (key) => key.createdDate });
    }),
  );
keys
  .command("revoke <apiKeyId>")
  .addOption(clientOption)
  .description("Revoke an API key")
  .action((apiKeyId: string, options: { client: string }) =>
    withContext(async (ctx) => {
      await deleteApiKey(ctx, asId<ClientId>(options.client), asId<ApiKeyId>(apiKeyId));
      console.log(`Revoked ${apiKeyId}.`);
    }),
  );

const webhooks = program.command("webhooks").description("Webhook consumers");
webhooks
  .command("secret <webhookId>")
  .addOption(clientOption)
  .description("Print a consumer's signing secret (whsec_...)")
  .action((webhookId: string, options: { client: string }) =>
    withContext(async (ctx) => console.log((await getSigningSecret(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId))).key)),
  );
webhookCommands(webhooks, withContext, clientOption);

messageCommands(program, withContext, clientOption);
resourceCommands(program, withContext, clientOption);
eventCommands(program, withContext, clientOption, () => loadConfig(process.env, overrides()).idempotencyKeyTtlMs);
encryptionCommands(program, withContext);
integrationCommands(program, () => loadConfig(process.env, overrides()), withContext);
operatorTokenCommands(program, withContext);
// Not withContext: it works over the API, on a server elsewhere.
listenCommand(program);
// Not withContext: a backup copies the database as it is, without migrating it first.
backupCommand(program, () => loadConfig(process.env, overrides()));

program
  .command("demo")
  .description("Start a server and a local receiver, cancel a sandbox link and print the signed connection.failed webhook")
  .option("--insight", "instead: a week of sandbox links, then the link funnel and the alerts it raised")
  .option(
    "--oauth",
    "instead: link through a local OAuth 2.0 provider in your browser, then see connection.connected and a forced connection.disconnected (from a clone of the repository)",
  )
  .action((options: { insight?: boolean; oauth?: boolean }) => (options.oauth ? runOAuthDemo() : options.insight ? runInsightDemo() : runDemo()));

program.parseAsync().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
