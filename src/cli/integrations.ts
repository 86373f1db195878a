import { text } from "node:stream/consumers";
import type { Command } from "commander";
import type { Config } from "../config.ts";
import { INTEGRATIONS_FILE_SCHEMA } from "../integrations/integrations-file.ts";
import { createLogger } from "../logger.ts";
import { SecretBox } from "../secret-box.ts";
import { withEncryptionKeys } from "../storage/encryption-keys.ts";

/** `hookline integrations ...`: what the operator needs to write HOOKLINE_INTEGRATIONS_FILE. */
export function integrationCommands(program: Command, loadConfig: () => Config): void {
  const integrations = program.command("integrations").description("The integrations file (HOOKLINE_INTEGRATIONS_FILE)");
  integrations
    .command("schema")
    .description("Print the JSON Schema the integrations file is checked against at start")
    .action(() => console.log(JSON.stringify(INTEGRATIONS_FILE_SCHEMA, null, 2)));
  integrations
    .command("seal-secret <platformKey>")
    .description("Encrypt an OAuth client secret read from standard input for the integration's clientSecret, under this deployment's keys")
    .action(async (platformKey: string) => {
      const config = loadConfig();
      const secretBox = new SecretBox(withEncryptionKeys(config, createLogger(config.logLevel, process.stderr)).consumers.encryptionKeys);
      const secret = (await text(process.stdin)).replace(/\r?\n$/, "");
      if (secret === "") throw new Error("No client secret on standard input");
      console.log(secretBox.seal(secret, "integration-client-secret", platformKey));
    });
}
