import type { CompanyId, ConsumerId, DeliveryId } from "../../ids.ts";
import type { Db, Store, Tx, UnitOfWork } from "../database.ts";
import { dialectOf } from "../dialect/index.ts";
import type { ConsumerOrdering } from "../schema.ts";
import { parkLeased } from "./park.ts";

// Ordered delivery: an ordered consumer's deliveries go one at a time per line, in event order. A `fifo` consumer
// has one line; a `fifo-by-company` consumer has one per company, and one for the events without a company. The
// head of a line is its oldest pending delivery (ids are time-ordered); the others wait parked ("line") until the
// head is final.

/** A line: a consumer's whole line (`company` undefined), or the line of one company of a consumer (null: the events without a company). */
export interface Line {
  consumerId: ConsumerId;
  company?: CompanyId | null;
}

/** The line a delivery waits in. */
export const lineOf = (delivery: { consumerId: ConsumerId; companyId: CompanyId | null; ordering: ConsumerOrdering }): Line =>
  delivery.ordering === "fifo-by-company" ? { consumerId: delivery.consumerId, company: delivery.companyId } : { consumerId: delivery.consumerId };

/** The lines, each once. */
export function distinctLines(lines: readonly Line[]): Line[] {
  const byKey = new Map(lines.map((line) => [JSON.stringify([line.consumerId, line.company === undefined ? 0 : (line.company ?? 1)]), line]));
  return [...byKey.values()];
}

/** The line's oldest pending delivery: the one it lets through. Read through the index of pending deliveries by consumer (and company). */
async function headOf(db: Db, { consumerId, company }: Line): Promise<DeliveryId | undefined> {
  let query = db.selectFrom("deliveries").select("id").where("consumer_id", "=", consumerId);
  if (company !== undefined) query = query.where("company_id", company === null ? "is" : "=", company);
  const head = await query.where("next_attempt_at", "is not", null).orderBy("id").limit(1).executeTakeFirst();
  return head?.id;
}

/**
 * Locks the consumers' rows, in id order, until the transaction ends, and
 * returns those whose circuit is open. Who parks a delivery behind its line's
 * head and who releases the next one when a head becomes final take this lock
 * first, so one always sees what the other did: otherwise a delivery parked
 * behind a head that became final meanwhile would wait for a release that
 * already happened.
 */
async function lockLines(tx: Tx, consumerIds: readonly ConsumerId[]): Promise<Set<ConsumerId>> {
  const rows = await dialectOf(tx)
    .lockRows(tx.selectFrom("consumers").select(["id", "circuit_open_until"]).where("id", "in", consumerIds).orderBy("id"))
    .execute();
  return new Set(rows.filter((row) => row.circuit_open_until !== null).map((row) => row.id));
}

/**
 * Of claimed deliveries to ordered consumers, lets through only each line's
 * head and parks the rest, without spending an attempt. Returns those held.
 */
export function holdBehindHeads(store: Store, owner: string, claimed: ReadonlyArray<{ id: DeliveryId; line: Line }>): Promise<Set<DeliveryId>> {
  const lines = distinctLines(claimed.map((delivery) => delivery.line));
  return store.transaction(async ({ tx }) => {
    await lockLines(tx, [...new Set(lines.map((line) => line.consumerId))]);
    const heads = new Set<DeliveryId>();
    for (const line of lines) {
      const head = await headOf(tx, line);
      if (head !== undefined) heads.add(head);
    }
    const held = claimed.filter((delivery) => !heads.has(delivery.id)).map((delivery) => delivery.id);
    if (held.length > 0) await parkLeased(tx, owner, held, "line");
    return new Set(held);
  });
}

/**
 * Records what a batch did to ordered consumers' lines, in the transaction
 * that records the batch and before anything else there touches consumer
 * rows (so that locks are always taken in the same order): locks the
 * consumers of every line the batch sent to (`consumers`), and for the lines
 * whose head became final (`moved`) the next delivery in line, if it waits
 * in line, falls due `now`; when the consumer's circuit is open it waits for
 * the circuit instead, which releases it when it closes. Workers are woken
 * for what fell due.
 */
export async function advanceLines({ tx, wakeWorkers }: UnitOfWork, consumers: readonly ConsumerId[], moved: readonly Line[], now: number): Promise<void> {
  if (consumers.length === 0) return;
  const open = await lockLines(tx, consumers);
  let released = 0n;
  for (const line of moved) {
    const next = await headOf(tx, line);
    if (next === undefined) continue;
    const circuitHolds = open.has(line.consumerId);
    const result = await tx
      .updateTable("deliveries")
      .set(circuitHolds ? { parked_reason: "circuit" } : { next_attempt_at: now, parked_reason: null })
      .where("id", "=", next)
      .where("parked_reason", "=", "line")
      .executeTakeFirst();
    if (!circuitHolds) released += result.numUpdatedRows;
  }
  if (released > 0n) wakeWorkers();
}
