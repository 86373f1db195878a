import type { SelectQueryBuilder } from "kysely";
import type { ConsumerId } from "../../ids.ts";
import type { Database } from "../schema.ts";

/**
 * Narrows a query of deliveries to one consumer's, oldest first, in a form
 * PostgreSQL reads through an index led by `consumer_id`
 * (deliveries_pending_by_consumer, deliveries_parked). Given
 * `consumer_id = ?` it takes the column for a constant and drops it from the
 * order, and when much of the table is pending or parked (a backlog) it
 * expects the primary key, walked from the oldest delivery, to meet the
 * consumer's at once: it then reads every older final delivery first, 0.4 to
 * 0.5 s per statement behind 1.5 million of them (docs/performance.md). A
 * range of one value is not a constant, so the order stays the index's.
 */
export function oneConsumerOldestFirst<O>(query: SelectQueryBuilder<Database, "deliveries", O>, consumerId: ConsumerId) {
  return query.where("consumer_id", ">=", consumerId).where("consumer_id", "<=", consumerId).orderBy("consumer_id").orderBy("id");
}
