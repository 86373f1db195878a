import type { ClientId, ConsumerId } from "../ids.ts";
import type { Db, Tx } from "./database.ts";

/** The client's enabled consumers (or only `consumerId`, if it is enabled) with their subscriptions as stored: JSON text. */
export function readEnabledSubscribers(tx: Tx, clientId: ClientId, only?: ConsumerId) {
  let consumers = tx.selectFrom("consumers").select(["id", "event_types", "company_tags"]).where("client_id", "=", clientId).where("disabled", "=", 0);
  if (only !== undefined) consumers = consumers.where("id", "=", only);
  return consumers.execute();
}

/** Whether the client's consumer is disabled (1) or not (0); undefined when the client has no such consumer. */
export async function readConsumerDisabled(db: Db, clientId: ClientId, consumerId: ConsumerId): Promise<number | undefined> {
  const consumer = await db.selectFrom("consumers").select("disabled").where("client_id", "=", clientId).where("id", "=", consumerId).executeTakeFirst();
  return consumer?.disabled;
}
