import type { Config } from "../config.ts";
import type { Store } from "../storage/database.ts";
import { clearResponseExcerpts, deleteIdempotencyKeys, purgeExpiredPayloadChunk } from "../storage/retention.ts";

/** Rows per purge statement or transaction, so the job never holds the write lock for long. */
const PURGE_CHUNK = 500;

/**
 * Empties the bodies of messages created before `now - retentionMs` and marks
 * them purged; their metadata, deliveries and attempts stay. A message with a
 * delivery still pending (Sending or Attempting) keeps its body until that
 * delivery is final, since the worker sends the body at every attempt.
 * Returns how many were purged.
 */
async function purgeExpiredPayloads(store: Store, now: number, retentionMs: number): Promise<number> {
  const cutoff = now - retentionMs;
  let purged = 0;
  for (;;) {
    const { selected, emptied } = await store.transaction(({ tx }) => purgeExpiredPayloadChunk(tx, cutoff, now, PURGE_CHUNK));
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

export interface RetentionRun {
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
export async function purgeExpired(store: Store, now: number, settings: RetentionSettings): Promise<RetentionRun> {
  const idempotencyKeys = await inChunks((limit) => deleteIdempotencyKeys(store, now - settings.idempotencyKeyTtlMs, limit));
  const retentionMs = settings.messages.payloadRetentionMs;
  if (retentionMs === null) return { payloads: 0, responseExcerpts: 0, idempotencyKeys };
  const payloads = await purgeExpiredPayloads(store, now, retentionMs);
  const responseExcerpts = await inChunks((limit) => clearResponseExcerpts(store, now - retentionMs, limit));
  return { payloads, responseExcerpts, idempotencyKeys };
}
