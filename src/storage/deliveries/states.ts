import type { ClientId, ConsumerId, MessageId } from "../../ids.ts";
import type { Db } from "../database.ts";

/** Where each of these messages stands with each consumer it goes to (or with `consumerId` only), in the order the deliveries were made. */
export async function readDeliveryStates(db: Db, clientId: ClientId, messageIds: readonly MessageId[], consumerId?: ConsumerId) {
  let query = db
    .selectFrom("deliveries")
    .select(["message_id", "consumer_id", "status", "attempt_count", "next_attempt_at", "updated_at", "created_at"])
    .where("client_id", "=", clientId)
    .where("message_id", "in", messageIds);
  if (consumerId !== undefined) query = query.where("consumer_id", "=", consumerId);
  // Sorted here rather than by the database: an ORDER BY on created_at leads SQLite to walk every delivery of the
  // consumer in the (consumer_id, created_at) index instead of looking the few messages up by (message_id, consumer_id);
  // at a million deliveries that took half a second per log page (docs/performance.md, "Portal pages").
  const rows = await query.execute();
  return rows.sort((a, b) => a.created_at - b.created_at || (a.consumer_id < b.consumer_id ? -1 : a.consumer_id > b.consumer_id ? 1 : 0));
}
