import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
  const encryptionKeys = file === ":memory:" ? [randomBytes(32).toString("base64")] : keysFromFile(join(dirname(file), KEY_FILE_NAME), log);
  return { ...config, consumers: { ...config.consumers, encryptionKeys } };
}

function keysFromFile(path: string, log: Logger): string[] {
  if (!existsSync(path) && createKeyFile(path)) {
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
 * Writes a new key to `path` unless a file got there first; true when it
 * did. The key is written to a file of its own and then linked into place,
 * so processes starting together on one database never see a partial key
 * and agree on one.
 */
function createKeyFile(path: string): boolean {
  mkdirSync(dirname(path), { recursive: true });
  const draft = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(draft, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
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
