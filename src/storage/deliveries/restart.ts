import { newId, type ClientId, type ConsumerId, type DeliveryId, type MessageId } from "../../ids.ts";
import type { Tx } from "../database.ts";
import type { DeliveryRestartsTable } from "../schema.ts";
import { keepInLine } from "./fifo.ts";
import { freshSchedule } from "./fresh-schedule.ts";
import { PARKED_AT } from "./park.ts";

/**
 * A fresh attempt schedule whose first attempt is due at `dueAt`. Clearing the
 * lease keeps an attempt in flight from overwriting it when recorded (and
 * from counting as a lost claim); a rate-limit slot held for the old schedule
 * is given up, and so is its parking (a circuit holds it again when it is
 * claimed, if it still does; an ordered consumer's line takes it back, see
 * keepInLine).
 */
const restartedSchedule = (dueAt: number, now: number) => ({
  ...freshSchedule(dueAt, now),
  lease_owner: null,
  rate_slot_at: null,
  unrecorded_claims: 0,
  // A listen consumer's restarted delivery waits for its stream again.
  parked_reason: dueAt === PARKED_AT ? ("listen" as const) : null,
});

const restartRow = (clientId: ClientId, deliveryId: DeliveryId, reason: DeliveryRestartsTable["reason"], now: number): DeliveryRestartsTable => ({
  id: newId(),
  client_id: clientId,
  delivery_id: deliveryId,
  reason,
  restarted_at: now,
});

/** Restarts a delivery's attempt schedule, its first attempt due at `dueAt`, and logs the restart (its earlier attempts stay in the log). */
export async function restartDelivery(
  tx: Tx,
  clientId: ClientId,
  deliveryId: DeliveryId,
  reason: DeliveryRestartsTable["reason"],
  dueAt: number,
  now: number,
): Promise<void> {
  const restarted = await tx
    .updateTable("deliveries")
    .set(restartedSchedule(dueAt, now))
    .where("id", "=", deliveryId)
    .returning("consumer_id")
    .executeTakeFirst();
  if (restarted) await keepInLine(tx, restarted.consumer_id, [deliveryId]);
  await tx
    .insertInto("delivery_restarts")
    .values(restartRow(clientId, deliveryId, reason, now))
    .execute();
}

/**
 * Restarts the consumer's delivery of each message, each due at its own time,
 * if it is still in Failure (one resent meanwhile keeps its new schedule), and
 * logs the restarts as recoveries. Returns how many it restarted.
 */
export async function restartFailedDeliveries(
  tx: Tx,
  clientId: ClientId,
  consumerId: ConsumerId,
  due: ReadonlyArray<{ messageId: MessageId; dueAt: number }>,
  now: number,
): Promise<number> {
  const restarts: DeliveryRestartsTable[] = [];
  for (const { messageId, dueAt } of due) {
    const restarted = await tx
      .updateTable("deliveries")
      .set(restartedSchedule(dueAt, now))
      .where("message_id", "=", messageId)
      .where("consumer_id", "=", consumerId)
      .where("status", "=", "Failure")
      .returning("id")
      .executeTakeFirst();
    if (restarted) restarts.push(restartRow(clientId, restarted.id, "recover", now));
  }
  if (restarts.length > 0) await tx.insertInto("delivery_restarts").values(restarts).execute();
  await keepInLine(
    tx,
    consumerId,
    restarts.map((restart) => restart.delivery_id),
  );
  return restarts.length;
}
