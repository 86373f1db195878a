import type { Tx } from "./database.ts";
import { dialectOf } from "./dialect/index.ts";
import type { DeliveryStatus } from "./schema.ts";

/** Deliveries that still need the message body: the worker reads it at each attempt. */
export const PENDING_STATUSES: readonly DeliveryStatus[] = ["Sending", "Attempting"];

/**
 * Reads a client's messages inside a transaction that is about to schedule
 * deliveries of them, and on PostgreSQL locks them (in id order, so two such
 * transactions never deadlock) until it ends. The retention job locks the
 * messages it purges too, so a message is either purged or redelivered, never
 * purged under a delivery that needs its body. SQLite's write transaction
 * already excludes the two.
 */
export async function lockMessages(tx: Tx, clientId: string, messageIds: readonly string[]) {
  if (messageIds.length === 0) return [];
  let query = tx.selectFrom("messages").select(["id", "payload_purged_at"]).where("client_id", "=", clientId).where("id", "in", messageIds).orderBy("id");
  query = dialectOf(tx).lockRows(query);
  return query.execute();
}
