import type { ClientId, ConsumerId } from "../ids.ts";
import type { Db } from "./database.ts";

/**
 * A consumer's deliveries created in [since, until) (an event's are created
 * when it is generated),
 * oldest first, at most `limit`, each with its message's type and, for a
 * legacy alert, the event it was rendered from (for a migration's
 * comparison report). Examples are left out: they are no change.
 */
export function readDeliveriesForComparison(db: Db, clientId: ClientId, consumerId: ConsumerId, since: number, until: number, limit: number) {
  return db
    .selectFrom("deliveries")
    .innerJoin("messages", "messages.id", "deliveries.message_id")
    .leftJoin("messages as source", "source.id", "messages.source_message_id")
    .select([
      "deliveries.id as deliveryId",
      "deliveries.status",
      "messages.id as messageId",
      "messages.event_type as eventType",
      "deliveries.created_at as createdAt",
      "messages.source_message_id as sourceMessageId",
      "source.event_type as sourceEventType",
    ])
    .where("deliveries.client_id", "=", clientId)
    .where("deliveries.consumer_id", "=", consumerId)
    .where("messages.example", "=", 0)
    .where("deliveries.created_at", ">=", since)
    .where("deliveries.created_at", "<", until)
    .orderBy("deliveries.created_at")
    .orderBy("deliveries.id")
    .limit(limit)
    .execute();
}

export type ComparedDelivery = Awaited<ReturnType<typeof readDeliveriesForComparison>>[number];
