import type { ExpressionBuilder } from "kysely";
import type { CompanyId, ConsumerId, DeliveryId } from "../../ids.ts";
import type { Db, Tx, UnitOfWork } from "../database.ts";
import { dialectOf } from "../dialect/index.ts";
import type { ConsumerOrdering, Database } from "../schema.ts";
import { oneConsumerOldestFirst } from "./one-consumer.ts";
import { PARKED_AT, RELEASE_STEP } from "./park.ts";

// Ordered delivery: an ordered consumer's deliveries go one at a time per line, in event order. A `fifo` consumer
// has one line; a `fifo-by-company` consumer has one per company, and one for the events without a company. The
// head of a line is its oldest pending delivery (ids are time-ordered). Only the head is ever due: the others wait
// in line ("line", due at PARKED_AT) from their creation, so no claim meets them, and each falls due once, when the
// one before it is final. A line costs the claim nothing however long it is.

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

/** The line's oldest pending delivery: the one it lets through. */
async function headOf(db: Db, line: Line): Promise<{ id: DeliveryId; waiting: boolean } | undefined> {
  const head = await lineHead(db, line).executeTakeFirst();
  return head && { id: head.id, waiting: head.parked_reason === "line" };
}

/** The query of a line's head, read through the index of pending deliveries by consumer (and company). */
export function lineHead(db: Db, { consumerId, company }: Line) {
  const pending = db.selectFrom("deliveries").select(["id", "parked_reason"]).where("next_attempt_at", "is not", null);
  const query =
    company === undefined
      ? oneConsumerOldestFirst(pending, consumerId)
      : pending
          .where("consumer_id", "=", consumerId)
          .where("company_id", company === null ? "is" : "=", company)
          .orderBy("consumer_id")
          .orderBy("company_id")
          .orderBy("id");
  return query.limit(1);
}

/**
 * Locks the rows of those of the consumers that are ordered, in id order,
 * until the transaction ends, and returns them with their ordering and
 * circuit. Who adds deliveries to a line and who lets the next one go when a
 * head becomes final take this lock first, so one always sees what the other
 * did: otherwise a delivery put in line behind a head that became final
 * meanwhile would wait for a head that is gone. Unordered consumers' rows are
 * not locked.
 */
async function lockLines(tx: Tx, consumerIds: readonly ConsumerId[]) {
  if (consumerIds.length === 0) return [];
  return dialectOf(tx)
    .lockRows(
      tx
        .selectFrom("consumers")
        .select(["id", "ordering", "circuit_open_until as circuitOpenUntil"])
        .where("id", "in", consumerIds)
        .where("ordering", "<>", "unordered")
        .orderBy("id"),
    )
    .execute();
}

/** The ordered consumers among `consumerIds`, locked until the transaction ends (see lockLines), by id. */
export async function orderedConsumers(tx: Tx, consumerIds: readonly ConsumerId[]): Promise<Map<ConsumerId, ConsumerOrdering>> {
  return new Map((await lockLines(tx, consumerIds)).map((row) => [row.id, row.ordering]));
}

/**
 * New deliveries were put in their lines (waiting, see createDeliveries) by
 * the caller, who holds the lines' lock (orderedConsumers): each line whose
 * head waits (it had nothing pending before them) lets it go, due at
 * `dueAt(head)`, the time the new delivery was meant for, or `now` for one
 * not among them.
 */
export async function letHeadsGo(tx: Tx, lines: readonly Line[], dueAt: (id: DeliveryId) => number | undefined, now: number): Promise<void> {
  for (const line of distinctLines(lines)) {
    const head = await headOf(tx, line);
    if (head?.waiting)
      await tx
        .updateTable("deliveries")
        .set({ next_attempt_at: dueAt(head.id) ?? now, parked_reason: null })
        .where("id", "=", head.id)
        .execute();
  }
}

/**
 * Records what a batch did to ordered consumers' lines, in the transaction
 * that records the batch and before anything else there touches consumer
 * rows (so that locks are always taken in the same order): locks the
 * consumers of every line the batch sent to (`consumers`), and for the lines
 * whose head became final (`moved`) the next delivery in line, if it waits
 * in line, falls due `now`; when the consumer's circuit is open it waits for
 * the circuit instead, which releases it when it closes. Workers are woken
 * for what fell due, so it goes in the next claim, as a fresh event would.
 */
export async function advanceLines({ tx, wakeWorkers }: UnitOfWork, consumers: readonly ConsumerId[], moved: readonly Line[], now: number): Promise<void> {
  if (consumers.length === 0) return;
  const open = new Set((await lockLines(tx, consumers)).filter((row) => row.circuitOpenUntil !== null).map((row) => row.id));
  let released = false;
  for (const line of moved) {
    const next = await headOf(tx, line);
    if (!next?.waiting) continue;
    const circuitHolds = open.has(line.consumerId);
    await tx
      .updateTable("deliveries")
      .set(circuitHolds ? { parked_reason: "circuit" } : { next_attempt_at: now, parked_reason: null })
      .where("id", "=", next.id)
      .execute();
    released ||= !circuitHolds;
  }
  if (released) wakeWorkers();
}

/** Whether a delivery `newer` of `consumerId` has an older pending delivery in its line under `ordering`. */
function behindAnother(eb: ExpressionBuilder<Database, "deliveries">, ordering: ConsumerOrdering) {
  let older = eb
    .selectFrom("deliveries as older")
    .select("older.id")
    .whereRef("older.consumer_id", "=", "deliveries.consumer_id")
    .where("older.next_attempt_at", "is not", null)
    .whereRef("older.id", "<", "deliveries.id");
  if (ordering === "fifo-by-company")
    older = older.where((inner) =>
      inner.or([
        inner("older.company_id", "=", inner.ref("deliveries.company_id")),
        inner.and([inner("older.company_id", "is", null), inner("deliveries.company_id", "is", null)]),
      ]),
    );
  return eb.exists(older);
}

/**
 * Deliveries of the consumer restarted (a resend, a recovery) go back into
 * its line if it is ordered: those behind another pending delivery of their
 * line wait in line, so that a restart never sends one beside its line's head
 * or ahead of what is older; the oldest goes as its line's head. Takes the
 * lines' lock, as adding to a line does.
 */
export async function keepInLine(tx: Tx, consumerId: ConsumerId, ids: readonly DeliveryId[]): Promise<void> {
  if (ids.length === 0) return;
  const [consumer] = await lockLines(tx, [consumerId]);
  if (consumer === undefined) return;
  await tx
    .updateTable("deliveries")
    .set({ next_attempt_at: PARKED_AT, parked_reason: "line" })
    .where("id", "in", ids)
    .where("lease_owner", "is", null)
    .where("parked_reason", "is", null)
    .where((eb) => behindAnother(eb, consumer.ordering))
    .execute();
}

/**
 * The consumer's ordering changed to `ordering`: its lines are no longer the
 * same. A step of at most `step` deliveries per statement: first what is now
 * behind another in its new line and was due, scheduled for a retry or held
 * by its circuit or for a slot waits in line, then what waited in line and
 * now heads its new line falls due `now`. Deliveries in flight finish as
 * they were. To `unordered`, everything that waited in line falls due. Returns
 * whether more may remain.
 */
export async function relineConsumer(
  { tx, wakeWorkers }: UnitOfWork,
  consumerId: ConsumerId,
  ordering: ConsumerOrdering,
  now: number,
  step = RELEASE_STEP,
): Promise<boolean> {
  const inLine = oneConsumerOldestFirst(tx.selectFrom("deliveries").select("id").where("parked_reason", "=", "line"), consumerId);
  if (ordering === "unordered") {
    const result = await tx
      .updateTable("deliveries")
      .set({ next_attempt_at: now, parked_reason: null })
      .where("id", "in", inLine.limit(step))
      .executeTakeFirst();
    if (result.numUpdatedRows > 0n) wakeWorkers();
    return result.numUpdatedRows === BigInt(step);
  }
  const behind = oneConsumerOldestFirst(tx.selectFrom("deliveries").select("id").where("next_attempt_at", "is not", null), consumerId)
    .where("lease_owner", "is", null)
    // Held by its circuit or for a slot, it would be released with the others: it waits in line instead.
    .where((eb) => eb.or([eb("parked_reason", "is", null), eb("parked_reason", "in", ["circuit", "slot"])]))
    .where((eb) => behindAnother(eb, ordering));
  const waited = await tx
    .updateTable("deliveries")
    .set({ next_attempt_at: PARKED_AT, parked_reason: "line", rate_slot_at: null })
    .where("id", "in", behind.limit(step))
    .executeTakeFirst();
  if (waited.numUpdatedRows === BigInt(step)) return true;
  const heads = inLine.where((eb) => eb.not(behindAnother(eb, ordering)));
  const released = await tx
    .updateTable("deliveries")
    .set({ next_attempt_at: now, parked_reason: null })
    .where("id", "in", heads.limit(step))
    .executeTakeFirst();
  if (released.numUpdatedRows > 0n) wakeWorkers();
  return released.numUpdatedRows === BigInt(step);
}
