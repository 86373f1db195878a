import { newId, type ClientId, type CompanyId, type ConsumerId, type DeliveryId, type MessageId } from "../../ids.ts";
import type { Tx } from "../database.ts";
import { insertRecords } from "../json-records.ts";
import type { DeliveriesTable, ParkedReason } from "../schema.ts";
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
 * One statement whatever their number. Returns how many it created.
 */
export function createDeliveries(tx: Tx, deliveries: readonly NewDelivery[], { keepExisting = false }: CreateOptions = {}): Promise<number> {
  return insertRecords(tx, "deliveries", deliveryRows(deliveries), keepExisting ? ["message_id", "consumer_id"] : undefined);
}

/** The rows of new deliveries, each with a fresh attempt schedule. */
export function deliveryRows(deliveries: readonly NewDelivery[]) {
  return deliveries.map(({ clientId, messageId, consumerId, companyId, dueAt, createdAt }) => {
    const { status, attempt_count, next_attempt_at, updated_at } = freshSchedule(dueAt, createdAt);
    type Row = Omit<DeliveriesTable, "lease_owner" | "rate_slot_at" | "unrecorded_claims" | "parked_reason" | "company_id">;
    const row: Row & { parked_reason: ParkedReason | null; company_id: CompanyId | null } = {
      id: newId<DeliveryId>(),
      client_id: clientId,
      message_id: messageId,
      consumer_id: consumerId,
      company_id: companyId,
      parked_reason: dueAt === PARKED_AT ? "listen" : null,
      status,
      attempt_count,
      next_attempt_at,
      created_at: createdAt,
      updated_at,
    };
    return row;
  });
}
