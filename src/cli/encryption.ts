import type { Command } from "commander";
import type { AppContext } from "../domain/context.ts";
import { resealSecrets } from "../domain/reseal-secrets.ts";

type WithContext = (work: (ctx: AppContext) => Promise<void>) => Promise<void>;

/** `hookline encryption ...`: the keys that encrypt stored secrets at rest. */
export function encryptionCommands(program: Command, withContext: WithContext): void {
  const encryption = program.command("encryption").description("The keys that encrypt stored secrets at rest (HOOKLINE_ENCRYPTION_KEY)");
  encryption
    .command("rotate")
    .description("Encrypt every stored secret again under the first key of HOOKLINE_ENCRYPTION_KEY, in batches; the keys after it may then be dropped")
    .action(() =>
      withContext(async (ctx) => {
        const { resealed, resealedElsewhere, unreadable, unreadableElsewhere } = await resealSecrets(ctx.store, ctx.secretBox, "all");
        console.log(
          `Re-encrypted under the first key: ${resealed.signing_secret} signing secrets, ${resealed.previous_secrets} sets of rotated-out secrets, ${resealed.custom_headers} sets of custom headers, ${resealed.mtls_private_key} mTLS keys, ` +
            `${resealedElsewhere.connection_tokens} OAuth tokens, ${resealedElsewhere.connection_credentials} sets of connection credentials, ${resealedElsewhere.client_profiles} alert auth headers, ${resealedElsewhere.link_attempts} sign-ins in progress.`,
        );
        if (unreadable.length > 0) {
          console.error(`${unreadable.length} consumers hold secrets that no configured key decrypts, left as they were: ${unreadable.join(", ")}`);
          process.exitCode = 1;
        }
        if (unreadableElsewhere.length > 0) {
          console.error(
            `${unreadableElsewhere.length} rows hold secrets that no configured key decrypts, left as they were: ${unreadableElsewhere.join(", ")}`,
          );
          process.exitCode = 1;
        }
      }),
    );
}
