import type { ClientId, ConsumerId, MessageId } from "../../ids.ts";
import type { Db } from "../database.ts";

/** Where each of these messages stands with each consumer it goes to (or with `consumerId` only), in the order the deliveries were made. */
export function readDeliveryStates(db: Db, clientId: ClientId, messageIds: readonly MessageId[], consumerId?: ConsumerId) {
  let query = db
    .selectFrom("deliveries")
    .select(["message_id", "consumer_id", "status", "attempt_count", "next_attempt_at", "updated_at"])
    .where("client_id", "=", clientId)
    .where("message_id", "in", messageIds);
  if (consumerId !== undefined) query = query.where("consumer_id", "=", consumerId);
  return query.orderBy("created_at").orderBy("consumer_id").execute();
}
