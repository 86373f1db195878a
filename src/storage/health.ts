import { sql } from "kysely";
import type { Db } from "./database.ts";
import { migratorOf } from "./migrations/index.ts";

/**
 * The migrations this release has that the database has not applied, by
 * name; none when it is up to date. Throws when the database does not answer.
 */
export async function pendingMigrations(db: Db): Promise<string[]> {
  await sql`SELECT 1`.execute(db);
  return (await migratorOf(db).getMigrations()).filter((migration) => migration.executedAt === undefined).map((migration) => migration.name);
}
