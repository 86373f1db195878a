import { asId, type AttemptId, type ClientId, type ConsumerId, type MessageId } from "../ids.ts";
import { addToActivityHours } from "./activity-hours.ts";
import type { Db, Tx } from "./database.ts";
import { insertRecords } from "./json-records.ts";
import type { ListPosition } from "./messages.ts";
import type { AttemptsTable } from "./schema.ts";

/**
 * Logs attempts and adds them to their consumers' hourly counts (the activity
 * charts): two statements whatever their number. Every attempt is logged
 * through here, so the counts hold every attempt the log holds.
 */
export async function insertAttempts(tx: Tx, attempts: readonly AttemptsTable[]): Promise<void> {
  await insertRecords(tx, "attempts", attempts);
  await addToActivityHours(tx, attempts);
}

/**
 * Up to `limit` attempts of one message, newest first, after `after` (the
 * (started_at, id) of the last one served): at every consumer, or at
 * `consumerId` only. Each counts the restarts of its delivery's schedule
 * before it.
 */
export function readAttemptPage(
  db: Db,
  clientId: ClientId,
  messageId: MessageId,
  consumerId: ConsumerId | undefined,
  after: ListPosition | undefined,
  limit: number,
) {
  let query = db
    .selectFrom("attempts")
    .selectAll()
    .select((eb) =>
      eb
        .selectFrom("delivery_restarts")
        .select((count) => count.fn.countAll<number>().as("restarts"))
        .whereRef("delivery_restarts.delivery_id", "=", "attempts.delivery_id")
        .whereRef("delivery_restarts.restarted_at", "<=", "attempts.started_at")
        .as("restarts"),
    )
    .where("client_id", "=", clientId)
    .where("message_id", "=", messageId);
  if (consumerId !== undefined) query = query.where("consumer_id", "=", consumerId);
  if (after) query = query.where((eb) => eb(eb.refTuple("started_at", "id"), "<", eb.tuple(after.at, asId<AttemptId>(after.id))));
  return query.orderBy("started_at", "desc").orderBy("id", "desc").limit(limit).execute();
}
