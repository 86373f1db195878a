import { newId, type ClientId, type CompanyId, type ConsumerId, type DeliveryId, type MessageId } from "../../ids.ts";
import type { Tx } from "../database.ts";
import { insertRecords } from "../json-records.ts";
import type { DeliveriesTable, ParkedReason } from "../schema.ts";
import { letHeadsGo, lineOf, orderedConsumers, type Line } from "./fifo.ts";
import { freshSchedule } from "./fresh-schedule.ts";
import { PARKED_AT } from "./park.ts";

/** A delivery to create: one message to one consumer. */
export interface NewDelivery {
  clientId: ClientId;
  messageId: MessageId;
  consumerId: ConsumerId;
  /** The message's company (null without one): a `fifo-by-company` consumer's line. */
  companyId: CompanyId | null;
  /** When its first attempt is due; PARKED_AT for a listen consumer's, which its CLI's stream takes. */
  dueAt: number;
  createdAt: number;
}

export interface CreateOptions {
  /**
   * Whether the message may already have a delivery to the consumer (a resend
   * made meanwhile): that one stands and none is created beside it. A new
   * event's messages have none, and their insert stays the plain one the
   * event path needs.
   */
  keepExisting?: boolean;
}

/**
 * Creates deliveries, each with a fresh attempt schedule: the one place
 * deliveries are created, for new events (and examples), resends and replays.
 * One statement whatever their number, and for ordered consumers one lookup
 * of each line's head. Returns how many it created.
 *
 * An ordered consumer's new delivery waits in its line (deliveries/fifo.ts)
 * unless it heads it: then it is due at `dueAt` like any other. Its lines are
 * locked until the transaction ends, so that a head becoming final meanwhile
 * lets the next one go only once these are in line.
 */
export async function createDeliveries(tx: Tx, deliveries: readonly NewDelivery[], { keepExisting = false }: CreateOptions = {}): Promise<number> {
  // A listen consumer's deliveries go over its CLI's stream, one at a time anyway.
  const ordered = await orderedConsumers(tx, [
    ...new Set(deliveries.filter((delivery) => delivery.dueAt !== PARKED_AT).map((delivery) => delivery.consumerId)),
  ]);
  const lines: Line[] = [];
  const dueAt = new Map<DeliveryId, number>();
  const rows = deliveryRows(deliveries, (row, { companyId, dueAt: firstDueAt }) => {
    const ordering = ordered.get(row.consumer_id);
    if (ordering === undefined) return false;
    lines.push(lineOf({ consumerId: row.consumer_id, companyId, ordering }));
    dueAt.set(row.id, firstDueAt);
    return true;
  });
  const created = await insertRecords(tx, "deliveries", rows, keepExisting ? ["message_id", "consumer_id"] : undefined);
  if (lines.length > 0) await letHeadsGo(tx, lines, (id) => dueAt.get(id), Math.min(...dueAt.values()));
  return created;
}

/**
 * The rows of new deliveries, each with a fresh attempt schedule. Those
 * `waitsInLine` says an ordered consumer's line takes are created waiting in
 * it; without it, none is (for a caller that knows no consumer is ordered).
 */
export function deliveryRows(
  deliveries: readonly NewDelivery[],
  waitsInLine: (row: { id: DeliveryId; consumer_id: ConsumerId }, delivery: NewDelivery) => boolean = () => false,
) {
  return deliveries.map((delivery) => {
    const { clientId, messageId, consumerId, companyId, dueAt, createdAt } = delivery;
    const id = newId<DeliveryId>();
    const inLine = waitsInLine({ id, consumer_id: consumerId }, delivery);
    const { status, attempt_count, next_attempt_at, updated_at } = freshSchedule(inLine ? PARKED_AT : dueAt, createdAt);
    type Row = Omit<DeliveriesTable, "lease_owner" | "rate_slot_at" | "unrecorded_claims" | "parked_reason" | "company_id">;
    const row: Row & { parked_reason: ParkedReason | null; company_id: CompanyId | null } = {
      id,
      client_id: clientId,
      message_id: messageId,
      consumer_id: consumerId,
      company_id: companyId,
      parked_reason: inLine ? "line" : dueAt === PARKED_AT ? "listen" : null,
      status,
      attempt_count,
      next_attempt_at,
      created_at: createdAt,
      updated_at,
    };
    return row;
  });
}
