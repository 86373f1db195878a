import type { FastifyInstance } from "fastify";
import { Migrator, sql } from "kysely";
import { HooklineError } from "../../errors.ts";
import type { Store } from "../../storage/database.ts";
import { migrations } from "../../storage/migrations/index.ts";

/** How long readiness waits for the database before calling it unreachable. */
const READINESS_TIMEOUT_MS = 2000;

async function unreadiness(store: Store): Promise<string | null> {
  try {
    await sql`SELECT 1`.execute(store.db);
    const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => migrations } });
    const pending = (await migrator.getMigrations()).filter((migration) => migration.executedAt === undefined);
    return pending.length === 0 ? null : `migrations not applied: ${pending.map((migration) => migration.name).join(", ")}`;
  } catch {
    return "database unreachable";
  }
}

/**
 * `/readyz`: 200 when the database answers and every migration is applied,
 * else 503 (in the ErrorMessage shape) so a load balancer sends no traffic
 * here. `/healthz` only says the process is alive.
 */
export function readinessRoutes(app: FastifyInstance, store: Store): void {
  app.get("/readyz", async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("database did not answer in time"), READINESS_TIMEOUT_MS)));
    const problem = await Promise.race([unreadiness(store), timeout]).finally(() => clearTimeout(timer));
    if (problem !== null) throw new HooklineError(503, `Not ready: ${problem}`, [], "Yes");
    return { status: "ready" };
  });
}
