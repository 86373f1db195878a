import { sql } from "kysely";
import type { ClientId, ConsumerId } from "../ids.ts";
import type { Db, Store, Tx } from "./database.ts";
import type { AttemptBucket } from "./portal-activity.ts";
import type { ActivityHoursTable, AttemptsTable } from "./schema.ts";

export const HOUR_MS = 3_600_000;

/**
 * Adds attempts to their consumers' hourly counts, in the transaction that
 * logs them: one statement, a row per client, consumer and hour. The rows are
 * written in key order, so two transactions counting the same hours wait for
 * each other instead of deadlocking (PostgreSQL).
 */
export async function addToActivityHours(
  tx: Tx,
  attempts: readonly Pick<AttemptsTable, "client_id" | "consumer_id" | "started_at" | "succeeded">[],
): Promise<void> {
  const hours = new Map<string, ActivityHoursTable>();
  for (const attempt of attempts) {
    const hourStart = attempt.started_at - (attempt.started_at % HOUR_MS);
    const key = `${attempt.client_id}\n${String(hourStart).padStart(16, "0")}\n${attempt.consumer_id}`;
    const row = hours.get(key) ?? { client_id: attempt.client_id, hour_start: hourStart, consumer_id: attempt.consumer_id, succeeded: 0, failed: 0 };
    if (attempt.succeeded === 1) row.succeeded++;
    else row.failed++;
    hours.set(key, row);
  }
  if (hours.size === 0) return;
  const rows = [...hours.keys()].sort().map((key) => hours.get(key)!);
  await tx
    .insertInto("activity_hours")
    .values(rows)
    .onConflict((conflict) =>
      conflict.columns(["client_id", "hour_start", "consumer_id"]).doUpdateSet({
        succeeded: sql<number>`activity_hours.succeeded + excluded.succeeded`,
        failed: sql<number>`activity_hours.failed + excluded.failed`,
      }),
    )
    .execute();
}

/**
 * A client's attempts in the hours from `since` (a multiple of an hour),
 * summed per bucket of `bucketMs` (a multiple of an hour), oldest first;
 * buckets without attempts are left out. Reads the primary key, which leads
 * with the client and the hour.
 */
export async function countActivityHoursByBucket(
  db: Db,
  clientId: ClientId,
  since: number,
  bucketMs: number,
  consumerIds?: readonly ConsumerId[],
): Promise<AttemptBucket[]> {
  let query = db
    .selectFrom("activity_hours")
    .select((eb) => [
      eb("hour_start", "-", eb("hour_start", "%", bucketMs)).as("at"),
      eb.fn.sum<number>("succeeded").as("succeeded"),
      eb.fn.sum<number>("failed").as("failed"),
    ])
    .where("client_id", "=", clientId)
    .where("hour_start", ">=", since);
  if (consumerIds !== undefined) query = query.where("consumer_id", "in", consumerIds.length > 0 ? consumerIds : ["" as ConsumerId]);
  const rows = await query.groupBy("at").orderBy("at").execute();
  return rows.map((row) => ({ at: Number(row.at), succeeded: Number(row.succeeded), failed: Number(row.failed) }));
}

/** Deletes the counts of the hours that ended at or before `cutoff`, as message retention deletes the attempts they count. Returns how many rows went. */
export async function deleteActivityHoursBefore(store: Store, cutoff: number): Promise<number> {
  const result = await store.writeStatement((db) =>
    db
      .deleteFrom("activity_hours")
      .where("hour_start", "<=", cutoff - HOUR_MS)
      .executeTakeFirst(),
  );
  return Number(result.numDeletedRows);
}

/** Deletes a consumer's counts, with its deliveries and attempts: among its client's hours (the primary key's prefix), not the whole table. */
export async function deleteActivityHoursOfConsumer(tx: Tx, clientId: ClientId, consumerId: ConsumerId): Promise<void> {
  await tx.deleteFrom("activity_hours").where("client_id", "=", clientId).where("consumer_id", "=", consumerId).execute();
}
