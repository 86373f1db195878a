import { text } from "node:stream/consumers";
import type { Command } from "commander";
import { systemClock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { AppContext } from "../domain/context.ts";
import { DestinationPolicy } from "../domain/destination-policy.ts";
import { INTEGRATIONS_FILE_SCHEMA, loadIntegrations } from "../integrations/integrations-file.ts";
import type { IntegrationProvider } from "../integrations/provider.ts";
import { createLogger } from "../logger.ts";
import { SecretBox } from "../secret-box.ts";
import { withEncryptionKeys } from "../storage/encryption-keys.ts";
import { jsonOption, printList } from "./output.ts";

type WithContext = (work: (ctx: AppContext) => Promise<void>) => Promise<void>;

/** What `integrations list` shows of an integration: what identifies it and how it links, never its settings' secrets. */
const described = (integration: IntegrationProvider) => ({
  platformKey: integration.key,
  name: integration.name,
  kind: integration.kind,
  sourceType: integration.sourceType,
  enabled: integration.enabled,
});

/**
 * `hookline integrations ...`: what the operator needs to write and check
 * HOOKLINE_INTEGRATIONS_FILE, and what the configuration offers. The file
 * is the one place integrations are declared (see the README).
 */
export function integrationCommands(program: Command, loadConfig: () => Config, withContext: WithContext): void {
  const integrations = program.command("integrations").description("The integrations file (HOOKLINE_INTEGRATIONS_FILE)");
  const secretBoxOf = (config: Config) => new SecretBox(withEncryptionKeys(config, createLogger(config.logLevel, process.stderr)).consumers.encryptionKeys);
  integrations
    .command("list")
    .addOption(jsonOption("the table's fields"))
    .description("List the integrations this configuration offers (the sandbox and HOOKLINE_INTEGRATIONS_FILE's), as the server loads them at start")
    .action((options: { json?: boolean }) =>
      withContext(async (ctx) => {
        const found = ctx.integrations.list().map(described);
        printList(options, found, found, {
          KEY: (row) => row.platformKey,
          NAME: (row) => row.name,
          KIND: (row) => row.kind,
          SOURCE: (row) => row.sourceType,
          ENABLED: (row) => row.enabled,
        });
      }),
    );
  integrations
    .command("check <file>")
    .description("Check an integrations file as the server's start does (schema, logos, sealed client secrets) without starting anything")
    .action((file: string) => {
      const config = loadConfig();
      // Throws the start's own message (the path and the reason), which the CLI prints before exiting with 1.
      const catalog = loadIntegrations(file, secretBoxOf(config), new DestinationPolicy(config.allowedCidrs), systemClock.now);
      const keys = catalog.list().map((integration) => `${integration.key}${integration.enabled ? "" : " (disabled)"}`);
      console.log(`Integrations file ${file}: valid; offers ${keys.join(", ") || "no integration"}.`);
    });
  integrations
    .command("schema")
    .description("Print the JSON Schema the integrations file is checked against at start")
    .action(() => console.log(JSON.stringify(INTEGRATIONS_FILE_SCHEMA, null, 2)));
  integrations
    .command("seal-secret <platformKey>")
    .description("Encrypt an OAuth client secret read from standard input for the integration's clientSecret, under this deployment's keys")
    .action(async (platformKey: string) => {
      const secretBox = secretBoxOf(loadConfig());
      const secret = (await text(process.stdin)).replace(/\r?\n$/, "");
      if (secret === "") throw new Error("No client secret on standard input");
      console.log(secretBox.seal(secret, "integration-client-secret", platformKey));
    });
}
