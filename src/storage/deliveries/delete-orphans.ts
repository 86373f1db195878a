import type { DeliveryId } from "../../ids.ts";
import type { Db } from "../database.ts";

/** Deletes leased deliveries whose consumer was deleted meanwhile (a resend or replay racing the deletion): they have nothing to go to. */
export async function deleteOrphanedDeliveries(db: Db, owner: string, ids: readonly DeliveryId[]): Promise<void> {
  await db.deleteFrom("deliveries").where("id", "in", ids).where("lease_owner", "=", owner).execute();
}
