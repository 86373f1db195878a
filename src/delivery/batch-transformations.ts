import type { ConsumerId } from "../ids.ts";
import { readTransformations } from "../storage/consumers.ts";
import type { Db } from "../storage/database.ts";
import type { DueDelivery } from "../storage/deliveries/claim-batch.ts";
import type { PackedTransformation } from "./pipeline/request.ts";

const none: ReadonlyMap<ConsumerId, PackedTransformation> = new Map();

/**
 * The transformations of a batch's consumers, each read once: a batch whose
 * consumers have none (the common case) costs no query. The code read is the
 * latest; its version names it in the sender's cache.
 */
export async function batchTransformations(db: Db, deliveries: readonly DueDelivery[]): Promise<ReadonlyMap<ConsumerId, PackedTransformation>> {
  const consumerIds = [...new Set(deliveries.filter((delivery) => delivery.transformationVersion !== null).map((delivery) => delivery.consumerId))];
  if (consumerIds.length === 0) return none;
  return new Map((await readTransformations(db, consumerIds)).map((transformation) => [transformation.consumerId, transformation]));
}
