import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ENV, type Config } from "../config.ts";
import { listClients } from "../domain/clients.ts";
import type { AppContext } from "../domain/context.ts";
import { badRequest } from "../errors.ts";
import { asId, type ClientId } from "../ids.ts";
import { createLogger } from "../logger.ts";
import { openContext } from "../server.ts";
import { sqliteFileOf, Store } from "../storage/database.ts";
import { readPublicUrl } from "../storage/server-settings.ts";

/** The database a URL names, for people: a SQLite file's absolute path, or a PostgreSQL URL without its password. */
export function describeDatabase(databaseUrl: string): string {
  const file = sqliteFileOf(databaseUrl);
  if (file !== null) return file === ":memory:" ? "SQLite in memory" : `SQLite file ${resolve(file)}`;
  const url = new URL(databaseUrl);
  url.password = "";
  return `PostgreSQL ${url.toString()}`;
}

const noDatabase = (config: Config, what: string) =>
  new Error(
    `${what}, and only \`hookline serve\` and \`hookline migrate\` create one: point this command at the server's database ` +
      `with --database-url or ${ENV.databaseUrl} (it used ${config.databaseUrl})`,
  );

/**
 * Opens the database for a CLI command and says on standard error which one
 * it is. Unless `create` (serve's and migrate's business), a database that
 * does not exist yet is refused rather than made: a command run without the
 * server's settings would otherwise work on a new, empty database and answer
 * "not found" for everything. Links in what the command writes use the
 * server's public URL: the configured one, or else the one the server recorded.
 */
export async function openCliContext(config: Config, create: boolean): Promise<AppContext> {
  const described = describeDatabase(config.databaseUrl);
  if (!create) {
    const file = sqliteFileOf(config.databaseUrl);
    // Checked before anything opens it: opening a SQLite file (or making its encryption key) creates it.
    if (file !== null && (file === ":memory:" || !existsSync(file))) throw noDatabase(config, `There is no Hookline database at ${described}`);
    const store = await Store.open(config.databaseUrl);
    const hasSchema = await store.hasSchema().finally(() => store.close());
    if (!hasSchema) throw noDatabase(config, `${described} holds no Hookline database`);
  }
  process.stderr.write(`Database: ${described}\n`);
  const ctx = await openContext(config, createLogger(config.logLevel, process.stderr));
  const recorded = config.publicUrlConfigured ? undefined : await readPublicUrl(ctx.store.db);
  return recorded === undefined ? ctx : { ...ctx, config: { ...ctx.config, publicUrl: recorded } };
}

/** The client a command acts for: the one given, or else the database's only client. */
export async function defaultClient(ctx: AppContext): Promise<ClientId> {
  const clients = await listClients(ctx);
  if (clients.length === 1) return asId<ClientId>(clients[0]!.id);
  if (clients.length === 0) throw badRequest("There is no client yet: create one with `hookline clients create <name>` (or start the server once)");
  throw badRequest(
    `There are ${clients.length} clients: choose one with --client (${clients
      .slice(0, 10)
      .map((client) => `${client.id} "${client.name}"`)
      .join(", ")}${clients.length > 10 ? ", ..." : ""})`,
  );
}
