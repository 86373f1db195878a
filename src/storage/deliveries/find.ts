import type { ConsumerId, DeliveryId, MessageId } from "../../ids.ts";
import type { Db } from "../database.ts";

/** The delivery of a message to a consumer, if it has one. */
export async function findDeliveryId(db: Db, messageId: MessageId, consumerId: ConsumerId): Promise<DeliveryId | undefined> {
  const row = await db.selectFrom("deliveries").select("id").where("message_id", "=", messageId).where("consumer_id", "=", consumerId).executeTakeFirst();
  return row?.id;
}
