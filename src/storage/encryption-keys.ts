import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import { ENV, parseEncryptionKeys, type Config } from "../config.ts";
import { sqliteFileOf } from "./dialect/index.ts";

/** Where a SQLite deployment without a configured key keeps the one it made, beside its database file. */
const KEY_FILE_NAME = "encryption.key";

/**
 * The configuration with the keys that encrypt consumers' secrets at rest:
 * the operator's (HOOKLINE_ENCRYPTION_KEY), or else, on SQLite, those in the
 * key file next to the database, made with owner-only permissions on the
 * first start. PostgreSQL refuses to start without configured keys: every
 * process on every machine must share them, and a key made by one would be
 * unknown to the others.
 */
export function withEncryptionKeys(config: Config, log: Logger): Config {
  if (config.consumers.encryptionKeys.length > 0) return config;
  const file = sqliteFileOf(config.databaseUrl);
  if (file === null) {
    throw new Error(
      `${ENV.encryptionKey} is required with PostgreSQL: it encrypts signing secrets, custom header values and mTLS keys at rest, and every process on every machine must share it. Make one with \`openssl rand -base64 32\` and give the same value to every process.`,
    );
  }
  // An in-memory database ends with its process, and so may its key.
  const encryptionKeys = file === ":memory:" ? [randomBytes(32).toString("base64")] : keysFromFile(keyFileBeside(file), log);
  return { ...config, consumers: { ...config.consumers, encryptionKeys } };
}

/** The key file a SQLite database at `databaseFile` uses when HOOKLINE_ENCRYPTION_KEY is not set. */
export const keyFileBeside = (databaseFile: string): string => join(dirname(databaseFile), KEY_FILE_NAME);

function keysFromFile(path: string, log: Logger): string[] {
  if (!existsSync(path) && createKeyFile(path, `${randomBytes(32).toString("base64")}\n`)) {
    log.info(
      { keyFile: path },
      `Generated the encryption key for secrets at rest, since ${ENV.encryptionKey} is not set: keep the file (back it up apart from the database); without it stored secrets cannot be read`,
    );
  }
  const keys = parseEncryptionKeys(readFileSync(path, "utf8"), path);
  if (keys.length === 0) throw new Error(`${path} holds no encryption key: set ${ENV.encryptionKey} or remove the empty file`);
  return keys;
}

/**
 * Writes `keys` to the key file `path`, owner-only, unless a file got there
 * first; true when it did. The keys are written to a file of their own and
 * then linked into place, so processes starting together on one database
 * never see a partial key and agree on one.
 */
function createKeyFile(path: string, keys: string): boolean {
  mkdirSync(dirname(path), { recursive: true });
  const draft = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(draft, keys, { mode: 0o600, flag: "wx" });
  try {
    // The mode given on creation is narrowed by the umask only, but a chmod says it outright.
    chmodSync(draft, 0o600);
    linkSync(draft, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    rmSync(draft, { force: true });
  }
}

/**
 * How a copy of a SQLite database finds the keys its consumers' secrets are
 * encrypted under, once it is made: a server started on the copy reads the
 * key file beside it, as it does beside any database.
 * - `configured`: HOOKLINE_ENCRYPTION_KEY is set, and it is the key; no file is written.
 * - `shared`: the copy is in the database's own folder, and shares its key file.
 * - `present`: the key file beside the copy already holds the database's keys.
 * - `copy`: the database's key file is to be copied beside the copy.
 * - `missing`: the database has no key file (its secrets, if any, were encrypted
 *   under a HOOKLINE_ENCRYPTION_KEY this process was not given); nothing to copy.
 */
export type KeysForCopy =
  { kind: "configured" } | { kind: "shared" | "present" | "missing"; keyFile: string } | { kind: "copy"; keyFile: string; keys: string };

/**
 * Where the keys for a copy of the database at `databaseFile`, to be written
 * at `copyFile`, will come from, checked before the copy is made. Throws when
 * the copy's folder holds a key file with other keys: a server on the copy
 * would read it and fail to decrypt, and it may be another database's, so it
 * is never replaced.
 */
export function keysForCopy(config: Config, databaseFile: string, copyFile: string): KeysForCopy {
  if (config.consumers.encryptionKeys.length > 0) return { kind: "configured" };
  const source = keyFileBeside(databaseFile);
  const keyFile = keyFileBeside(copyFile);
  if (!existsSync(source)) return { kind: "missing", keyFile: source };
  if (sameFile(dirname(databaseFile), dirname(copyFile))) return { kind: "shared", keyFile };
  const keys = readFileSync(source, "utf8");
  if (!existsSync(keyFile)) return { kind: "copy", keyFile, keys };
  if (sameKeys(readFileSync(keyFile, "utf8"), keys)) return { kind: "present", keyFile };
  throw new Error(
    `${keyFile} holds other keys than the database's (another database's?), and a server on the copy would use them: back up into another folder, or remove that file if no database there needs it`,
  );
}

/** Writes the key file beside the copy when `keysForCopy` found one to copy. */
export function writeKeysForCopy(plan: KeysForCopy): void {
  if (plan.kind !== "copy" || createKeyFile(plan.keyFile, plan.keys)) return;
  // Another file appeared there since the check: it will do if it holds the same keys.
  if (!sameKeys(readFileSync(plan.keyFile, "utf8"), plan.keys)) {
    throw new Error(`${plan.keyFile} appeared meanwhile with other keys than the database's: the copy is made, but its key file is not`);
  }
}

/** Whether two key files' texts list the same keys in the same order, whatever the spacing. */
const sameKeys = (text: string, expected: string) => {
  const keys = (list: string) =>
    list
      .split(",")
      .map((key) => key.trim())
      .filter(Boolean)
      .join(",");
  return keys(text) === keys(expected);
};

/** Whether two paths name one existing file or folder (through links too). */
export function sameFile(a: string, b: string): boolean {
  const [first, second] = [statSync(a, { throwIfNoEntry: false }), statSync(b, { throwIfNoEntry: false })];
  return first !== undefined && second !== undefined && first.dev === second.dev && first.ino === second.ino;
}
