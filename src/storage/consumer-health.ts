import type { ConsumerId } from "../ids.ts";
import type { Tx } from "./database.ts";
import type { ConsumersTable } from "./schema.ts";

// Consumers' failure streaks (failing_since) and their disabling by the worker.

/** The consumers succeeded: their streaks end. */
export async function endFailureStreaks(tx: Tx, consumerIds: readonly ConsumerId[]): Promise<void> {
  await tx.updateTable("consumers").set({ failing_since: null }).where("id", "in", consumerIds).execute();
}

/** The consumers failed at `now`: a streak starts for those not already in one. */
export async function startFailureStreaks(tx: Tx, consumerIds: readonly ConsumerId[], now: number): Promise<void> {
  await tx.updateTable("consumers").set({ failing_since: now }).where("id", "in", consumerIds).where("failing_since", "is", null).execute();
}

/**
 * Disables those of the consumers that are enabled and, when
 * `failingSinceAtMost` is given, have been failing since then or earlier:
 * checked in the statement, so that a success another worker recorded
 * meanwhile keeps a consumer enabled. Returns the consumers it disabled.
 */
export function disableConsumers(
  tx: Tx,
  consumerIds: readonly ConsumerId[],
  failingSinceAtMost?: number,
): Promise<Array<Pick<ConsumersTable, "id" | "client_id" | "url" | "failing_since">>> {
  let update = tx.updateTable("consumers").set({ disabled: 1 }).where("id", "in", consumerIds).where("disabled", "=", 0);
  if (failingSinceAtMost !== undefined) update = update.where("failing_since", "<=", failingSinceAtMost);
  return update.returning(["id", "client_id", "url", "failing_since"]).execute();
}
