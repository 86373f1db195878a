import type { Logger } from "pino";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Store } from "../storage/database.ts";
import { PENDING_STATUSES } from "../storage/messages.ts";
import { clearResponseExcerpts, deleteIdempotencyKeys } from "../storage/retention.ts";

/** Rows per purge statement or transaction, so the job never holds the write lock for long. */
const PURGE_CHUNK = 500;

/**
 * Empties the bodies of messages created before `now - retentionMs` and marks
 * them purged; their metadata, deliveries and attempts stay. A message with a
 * delivery still pending (Sending or Attempting) keeps its body until that
 * delivery is final, since the worker sends the body at every attempt.
 * Returns how many were purged.
 */
export async function purgeExpiredPayloads(store: Store, now: number, retentionMs: number): Promise<number> {
  const cutoff = now - retentionMs;
  let purged = 0;
  for (;;) {
    const { selected, emptied } = await store.transaction(async ({ tx }) => {
      let expired = tx
        .selectFrom("messages")
        .select("id")
        .where("payload_purged_at", "is", null)
        .where("created_at", "<", cutoff)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom("deliveries")
                .select("deliveries.id")
                .whereRef("deliveries.message_id", "=", "messages.id")
                .where("deliveries.status", "in", PENDING_STATUSES),
            ),
          ),
        )
        .orderBy("created_at")
        .limit(PURGE_CHUNK);
      // Messages a redelivery holds (lockMessages) are left for the next run; other workers' purges take other rows.
      expired = store.dialect.claimRows(expired);
      const ids = (await expired.execute()).map((row) => row.id);
      if (ids.length === 0) return { selected: 0, emptied: 0 };
      // A redelivery that committed after the statement above started is seen by this one (each PostgreSQL statement reads the latest commits).
      const pending = await tx.selectFrom("deliveries").select("message_id").where("message_id", "in", ids).where("status", "in", PENDING_STATUSES).execute();
      const stillPending = new Set(pending.map((row) => row.message_id));
      const purgeable = ids.filter((id) => !stillPending.has(id));
      if (purgeable.length > 0) await tx.updateTable("messages").set({ body: "", payload_purged_at: now }).where("id", "in", purgeable).execute();
      return { selected: ids.length, emptied: purgeable.length };
    });
    purged += emptied;
    if (selected < PURGE_CHUNK) return purged;
  }
}

/** Runs `chunk` (which handles at most PURGE_CHUNK rows) until a chunk comes short. Returns the rows handled in all. */
async function inChunks(chunk: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const handled = await chunk(PURGE_CHUNK);
    total += handled;
    if (handled < PURGE_CHUNK) return total;
  }
}

export type RetentionSettings = Pick<Config, "messages" | "idempotencyKeyTtlMs">;

interface RetentionRun {
  payloads: number;
  responseExcerpts: number;
  idempotencyKeys: number;
}

/**
 * Removes what outlived its time: idempotency keys past their TTL (their
 * stored answer holds the published events), and, unless payload retention
 * is off, message bodies and attempts' response excerpts (a receiver may
 * echo the event) older than the retention period.
 */
async function purgeExpired(store: Store, now: number, settings: RetentionSettings): Promise<RetentionRun> {
  const idempotencyKeys = await inChunks((limit) => deleteIdempotencyKeys(store, now - settings.idempotencyKeyTtlMs, limit));
  const retentionMs = settings.messages.payloadRetentionMs;
  if (retentionMs === null) return { payloads: 0, responseExcerpts: 0, idempotencyKeys };
  const payloads = await purgeExpiredPayloads(store, now, retentionMs);
  const responseExcerpts = await inChunks((limit) => clearResponseExcerpts(store, now - retentionMs, limit));
  return { payloads, responseExcerpts, idempotencyKeys };
}

export interface RetentionJob {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/** Runs the purge at start and then every `retentionIntervalMs`, one run at a time. */
export function startRetention(store: Store, settings: RetentionSettings, clock: Clock, log: Logger): RetentionJob {
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= purgeExpired(store, clock.now(), settings)
      .then((purged) => {
        if (purged.payloads + purged.responseExcerpts + purged.idempotencyKeys > 0) {
          log.info({ ...purged, retentionMs: settings.messages.payloadRetentionMs }, "purged expired message payloads, response excerpts and idempotency keys");
        }
      })
      .catch((error: unknown) => log.error({ err: error }, "purging expired payloads failed; trying again at the next interval"))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(run, settings.messages.retentionIntervalMs);
  timer.unref();
  run();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
