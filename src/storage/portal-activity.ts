import type { ClientId, ConsumerId } from "../ids.ts";
import type { Db } from "./database.ts";

export interface AttemptBucket {
  /** The bucket's start, epoch milliseconds (a multiple of the bucket's length). */
  at: number;
  succeeded: number;
  failed: number;
}

/**
 * A client's attempts since `since`, counted per bucket of `bucketMs`, oldest
 * first; buckets without attempts are left out. Reads the attempts index that
 * leads with the client and the time.
 */
export async function countAttemptsByBucket(
  db: Db,
  clientId: ClientId,
  since: number,
  bucketMs: number,
  consumerIds?: readonly ConsumerId[],
): Promise<AttemptBucket[]> {
  let query = db
    .selectFrom("attempts")
    .select((eb) => [
      // The bucket's start by the remainder, which both databases take in whole numbers (SQLite binds a JS
      // number as a real, so a division would not round down).
      eb("started_at", "-", eb("started_at", "%", bucketMs)).as("at"),
      eb.fn.sum<number>(eb.case().when("succeeded", "=", 1).then(1).else(0).end()).as("succeeded"),
      eb.fn.countAll<number>().as("total"),
    ])
    .where("client_id", "=", clientId)
    .where("started_at", ">=", since);
  if (consumerIds !== undefined) query = query.where("consumer_id", "in", consumerIds.length > 0 ? consumerIds : ["" as ConsumerId]);
  const rows = await query.groupBy("at").orderBy("at").execute();
  return rows.map((row) => ({ at: Number(row.at), succeeded: Number(row.succeeded), failed: Number(row.total) - Number(row.succeeded) }));
}

export interface ClientBacklog {
  /** Deliveries waiting for an attempt. */
  pending: number;
  /** When the oldest of them was created; null when none waits. */
  oldestCreatedAt: number | null;
}

/** The deliveries of the client's consumers still waiting for an attempt, through the index of pending deliveries by consumer. */
export async function clientBacklog(db: Db, clientId: ClientId, consumerIds?: readonly ConsumerId[]): Promise<ClientBacklog> {
  let query = db
    .selectFrom("deliveries")
    .select((eb) => [eb.fn.countAll().as("pending"), eb.fn.min("created_at").as("oldest")])
    .where("consumer_id", "in", (eb) => eb.selectFrom("consumers").select("consumers.id").where("client_id", "=", clientId))
    .where("next_attempt_at", "is not", null);
  if (consumerIds !== undefined) query = query.where("consumer_id", "in", consumerIds.length > 0 ? consumerIds : ["" as ConsumerId]);
  const row = await query.executeTakeFirst();
  return { pending: Number(row?.pending ?? 0), oldestCreatedAt: row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest) };
}
