import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ENV, type Config } from "../config.ts";
import { backupSqliteFile, sqliteFileOf } from "./dialect/index.ts";
import { keyFileBeside, keysForCopy, sameFile, writeKeysForCopy, type KeysForCopy } from "./encryption-keys.ts";

export interface BackupResult {
  /** The database file that was copied, and the copy, as absolute paths. */
  database: string;
  copy: string;
  pages: number;
  bytes: number;
  /** Where a server started on the copy finds the keys of its consumers' secrets. */
  keys: KeysForCopy;
}

/**
 * Copies the SQLite database the configuration names to `destination`, while
 * servers on it keep serving and delivering: the copy is the database as one
 * commit left it. The key file beside the database goes beside the copy, so
 * that a server started on the copy reads its consumers' secrets (unless
 * HOOKLINE_ENCRYPTION_KEY is set: then that is the key, and nothing is written).
 * Everything that would make it refuse is checked before anything is written.
 */
export async function backupDatabase(config: Config, destination: string, options: { force: boolean }): Promise<BackupResult> {
  const file = sqliteFileOf(config.databaseUrl);
  if (file === null) {
    throw new Error(
      `hookline backup copies SQLite databases only: back up PostgreSQL with pg_dump (or your provider's backups), and keep ${ENV.encryptionKey} with them, since without it the consumers' secrets in a restored database cannot be read`,
    );
  }
  if (file === ":memory:") throw new Error("An in-memory database has no file to back up");
  const database = resolve(file);
  const copy = resolve(destination);
  if (!existsSync(database)) throw new Error(`No database at ${database}: ${ENV.databaseUrl} (or --database-url) names the SQLite file to back up`);
  const existing = statSync(copy, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw new Error(`${copy} is a folder: name the file to write the copy to`);
  if (sameFile(database, copy) || ["-wal", "-shm", "-journal"].some((suffix) => copy === `${database}${suffix}`)) {
    throw new Error(`${copy} is the database itself: name another file for the copy`);
  }
  if (copy === keyFileBeside(copy)) throw new Error(`${copy} is where the copy's encryption key goes: name the copy otherwise`);
  if (existing && !options.force) throw new Error(`${copy} already exists: pass --force to replace it`);
  const keys = keysForCopy(config, database, copy);

  mkdirSync(dirname(copy), { recursive: true });
  const { pages, bytes } = await backupSqliteFile(database, copy);
  writeKeysForCopy(keys);
  return { database, copy, pages, bytes, keys };
}
