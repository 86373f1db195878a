import { sql } from "kysely";
import type { CircuitBreakerConfig } from "../config.ts";
import type { ConsumerId } from "../ids.ts";
import type { Db, Tx } from "./database.ts";

// Consumers' circuit breakers: the run of attempts that found a consumer unreachable, and while its
// circuit is open, when the next probe may go. What an open circuit does to deliveries is in deliveries/park.ts.

/**
 * Counts `count` more unreachable attempts in the consumer's run, and opens
 * its circuit until `now` + the cool-down once the run reaches the breaker's
 * threshold (an open circuit whose probe failed stays open for another
 * cool-down). Returns the run and whether and until when the circuit is open,
 * or undefined if the consumer is gone.
 */
export async function countUnreachable(
  tx: Tx,
  consumerId: ConsumerId,
  count: number,
  now: number,
  breaker: CircuitBreakerConfig,
): Promise<{ consecutiveFailures: number; openUntil: number | null; wasOpen: boolean } | undefined> {
  const before = await tx.selectFrom("consumers").select("circuit_open_until").where("id", "=", consumerId).executeTakeFirst();
  if (before === undefined) return undefined;
  const row = await tx
    .updateTable("consumers")
    .set((eb) => ({
      consecutive_failures: eb("consecutive_failures", "+", count),
      circuit_open_until: sql<
        number | null
      >`CASE WHEN consecutive_failures + ${count} >= ${breaker.failures} THEN CAST(${now + breaker.cooldownMs} AS bigint) ELSE circuit_open_until END`,
    }))
    .where("id", "=", consumerId)
    .returning(["consecutive_failures", "circuit_open_until"])
    .executeTakeFirstOrThrow();
  return { consecutiveFailures: row.consecutive_failures, openUntil: row.circuit_open_until, wasOpen: before.circuit_open_until !== null };
}

/** The consumers were reached: their runs end and their circuits close. Returns those whose circuit was open, and until when. */
export async function closeCircuits(tx: Tx, consumerIds: readonly ConsumerId[]): Promise<Array<{ consumerId: ConsumerId; openUntil: number }>> {
  const open = await tx
    .selectFrom("consumers")
    .select(["id", "circuit_open_until"])
    .where("id", "in", consumerIds)
    .where("circuit_open_until", "is not", null)
    .execute();
  await tx.updateTable("consumers").set({ consecutive_failures: 0, circuit_open_until: null }).where("id", "in", consumerIds).execute();
  return open.map((row) => ({ consumerId: row.id, openUntil: row.circuit_open_until! }));
}

/**
 * Takes the probe of a consumer whose circuit's cool-down is over: moves the
 * circuit's time to `probeUntil` (the probe's lease), only if no other worker
 * did since it was read as `seenUntil`. True when this claim sends the probe.
 */
export async function takeProbe(db: Db, consumerId: ConsumerId, seenUntil: number, probeUntil: number): Promise<boolean> {
  const taken = await db
    .updateTable("consumers")
    .set({ circuit_open_until: probeUntil })
    .where("id", "=", consumerId)
    .where("circuit_open_until", "=", seenUntil)
    .executeTakeFirst();
  return taken.numUpdatedRows > 0n;
}
