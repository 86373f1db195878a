import type { Command } from "commander";
import { ENV, type Config } from "../config.ts";
import { backupDatabase } from "../storage/backup.ts";
import type { KeysForCopy } from "../storage/encryption-keys.ts";

/** A path as a shell takes it: quoted when it holds anything but plain characters. */
const shellWord = (text: string) => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`);

/** What the key part of a backup came to, for the operator; never the key itself. */
function keyLine(keys: KeysForCopy): string {
  switch (keys.kind) {
    case "configured":
      return `${ENV.encryptionKey} is set: the consumers' secrets in the copy are encrypted under it, and a server restored from the copy needs the same ${ENV.encryptionKey} (no key file was written).`;
    case "copy":
      return `Copied the encryption key to ${keys.keyFile} (owner-only), where a server on the copy looks for it. The copy and its key together can read the consumers' secrets: keep them as safe as the database itself.`;
    case "present":
      return `${keys.keyFile}, where a server on the copy looks for the encryption key, already holds the database's key.`;
    case "shared":
      return `The copy is in the database's folder and shares its encryption key, ${keys.keyFile}.`;
    case "missing":
      return `There is no ${keys.keyFile} and ${ENV.encryptionKey} is not set, so no key was copied: a server restored from the copy needs the key its consumers' secrets were encrypted under (the ${ENV.encryptionKey} the servers run with).`;
  }
}

/** `hookline backup <file>`: a consistent copy of a SQLite database, made while servers keep running, with its encryption key. */
export function backupCommand(program: Command, config: () => Config): void {
  program
    .command("backup <file>")
    .description("Copy the SQLite database to <file> while servers keep running (the database as one commit left it), with its encryption key beside the copy")
    .option("--force", "replace <file> if it exists")
    .action(async (file: string, options: { force?: boolean }) => {
      const backup = await backupDatabase(config(), file, { force: options.force === true });
      console.log(`Backed up ${backup.database} to ${backup.copy} (${(backup.bytes / 1_048_576).toFixed(1)} MB).`);
      const keys = keyLine(backup.keys);
      if (backup.keys.kind === "missing") console.error(keys);
      else console.log(keys);
      const restoreEnv = `${ENV.databaseUrl}=${shellWord(`sqlite:${backup.copy}`)}${backup.keys.kind === "configured" ? ` ${ENV.encryptionKey}=<the same keys>` : ""}`;
      console.log(`To restore, stop Hookline and start it on the copy: ${restoreEnv} npx hookline serve`);
    });
}
