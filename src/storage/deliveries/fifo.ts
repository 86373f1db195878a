import type { ConsumerId, DeliveryId } from "../../ids.ts";
import type { Db, Store, Tx, UnitOfWork } from "../database.ts";
import { dialectOf } from "../dialect/index.ts";
import { handBack } from "./hand-back.ts";
import { PARKED_AT } from "./park.ts";

// Ordered delivery: a `fifo` consumer's deliveries go one at a time, in event order. The head of its line is its
// oldest pending delivery (ids are time-ordered); the others wait parked until the head is final.

/** The consumer's oldest pending delivery: the one its line lets through. Read through the index of pending deliveries by consumer. */
async function headOf(db: Db, consumerId: ConsumerId): Promise<DeliveryId | undefined> {
  const head = await db
    .selectFrom("deliveries")
    .select("id")
    .where("consumer_id", "=", consumerId)
    .where("next_attempt_at", "is not", null)
    .orderBy("id")
    .limit(1)
    .executeTakeFirst();
  return head?.id;
}

/**
 * Locks the consumers' rows, in id order, until the transaction ends. Who
 * parks a delivery behind its line's head and who releases the next one
 * when a head becomes final take this lock first, so one always sees what
 * the other did: otherwise a delivery parked behind a head that became final
 * meanwhile would wait for a release that already happened.
 */
async function lockLines(tx: Tx, consumerIds: readonly ConsumerId[]): Promise<void> {
  await dialectOf(tx)
    .lockRows(tx.selectFrom("consumers").select("id").where("id", "in", consumerIds).orderBy("id"))
    .execute();
}

/**
 * Of claimed deliveries to `fifo` consumers, lets through only each line's
 * head and parks the rest, without spending an attempt. Returns those held.
 */
export function holdBehindHeads(store: Store, owner: string, claimed: ReadonlyArray<{ id: DeliveryId; consumerId: ConsumerId }>): Promise<Set<DeliveryId>> {
  const consumerIds = [...new Set(claimed.map((delivery) => delivery.consumerId))];
  return store.transaction(async ({ tx }) => {
    await lockLines(tx, consumerIds);
    const heads = new Set<DeliveryId>();
    for (const consumerId of consumerIds) {
      const head = await headOf(tx, consumerId);
      if (head !== undefined) heads.add(head);
    }
    const held = claimed.filter((delivery) => !heads.has(delivery.id)).map((delivery) => delivery.id);
    if (held.length > 0) await handBack(tx, owner, held, PARKED_AT);
    return new Set(held);
  });
}

/**
 * Records what a batch did to `fifo` consumers' lines, in the transaction
 * that records the batch and before anything else there touches consumer
 * rows (so that locks are always taken in the same order): locks every line
 * the batch sent to, and for those whose head became final (`moved`) the
 * next delivery in line, if parked, falls due `now` (unless the consumer's
 * circuit is open: it is released when the circuit closes). Workers are
 * woken for what fell due.
 */
export async function advanceLines({ tx, wakeWorkers }: UnitOfWork, lines: readonly ConsumerId[], moved: readonly ConsumerId[], now: number): Promise<void> {
  if (lines.length === 0) return;
  await lockLines(tx, lines);
  let released = 0n;
  for (const consumerId of moved) {
    const next = await headOf(tx, consumerId);
    if (next === undefined) continue;
    const result = await tx
      .updateTable("deliveries")
      .set({ next_attempt_at: now })
      .where("id", "=", next)
      .where("next_attempt_at", "=", PARKED_AT)
      .where((eb) => eb.not(eb.exists(eb.selectFrom("consumers").select("id").where("id", "=", consumerId).where("circuit_open_until", "is not", null))))
      .executeTakeFirst();
    released += result.numUpdatedRows;
  }
  if (released > 0n) wakeWorkers();
}
