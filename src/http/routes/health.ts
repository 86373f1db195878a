import type { FastifyInstance } from "fastify";
import { HooklineError } from "../../errors.ts";
import type { Store } from "../../storage/database.ts";
import { pendingMigrations } from "../../storage/health.ts";

/** How long readiness waits for the database before calling it unreachable. */
const READINESS_TIMEOUT_MS = 2000;

async function unreadiness(store: Store): Promise<string | null> {
  try {
    const pending = await pendingMigrations(store.db);
    return pending.length === 0 ? null : `migrations not applied: ${pending.join(", ")}`;
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
