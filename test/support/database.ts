import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/** Which database the suite runs against: set by the test command, SQLite unless told otherwise. */
export const testDialect = process.env.HOOKLINE_TEST_DIALECT === "postgres" ? "postgres" : "sqlite";
export const postgresAdminUrl = process.env.HOOKLINE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/**
 * The HOOKLINE_ENCRYPTION_KEY of every process a test starts on a PostgreSQL
 * database, which refuses to start without one and must share it. SQLite
 * processes get none: they use the key file made beside the database.
 */
const postgresEncryptionKey = randomBytes(32).toString("base64");

/** The encryption key to configure for a process on `databaseUrl`, if any. */
export const encryptionKeyFor = (databaseUrl: string): string | undefined => (databaseUrl.startsWith("postgres") ? postgresEncryptionKey : undefined);

/** The same as environment variables, for processes the tests spawn. */
export const encryptionEnvFor = (databaseUrl: string): Record<string, string> => {
  const key = encryptionKeyFor(databaseUrl);
  return key === undefined ? {} : { HOOKLINE_ENCRYPTION_KEY: key };
};

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database for one test server: a SQLite file in a temporary folder, or a PostgreSQL database of its own. */
export async function createTestDatabase(dialect: "sqlite" | "postgres" = testDialect): Promise<TestDatabase> {
  if (dialect === "sqlite") {
    const directory = mkdtempSync(join(tmpdir(), "hookline-test-"));
    return { url: `sqlite:${join(directory, "hookline.db")}`, drop: async () => rmSync(directory, { recursive: true, force: true }) };
  }
  const name = `hookline_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: postgresAdminUrl });
      await client.connect();
      // A closed pool's connections end a moment after it says so; dropping under them would make them emit errors nobody listens to.
      for (let tries = 0; tries < 100; tries++) {
        const { rows } = await client.query("SELECT count(*)::int AS open FROM pg_stat_activity WHERE datname = $1", [name]);
        if (rows[0].open === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
