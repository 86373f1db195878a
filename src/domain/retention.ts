import type { Config } from "../config.ts";
import { deleteActivityHoursBefore } from "../storage/activity-hours.ts";
import type { Store } from "../storage/database.ts";
import { deleteLinkStepsBefore } from "../storage/link-funnels.ts";
import { clearResponseExcerpts, deleteExpiredMessageChunk, deleteIdempotencyKeys, purgeExpiredPayloadChunk } from "../storage/retention.ts";

/** Rows per purge statement or transaction, so the job never holds the write lock for long. */
const PURGE_CHUNK = 500;
/**
 * Rows a deletion transaction aims at. A message takes its deliveries and
 * attempts along, from one row to thousands (a message to many consumers that
 * retried), so the number of messages per transaction follows the rows the
 * previous one deleted, between 1 and MAX_DELETE_CHUNK. 500 rows take about
 * 15 ms to delete on SQLite on a 2-core machine (docs/performance.md).
 */
const DELETE_TARGET_ROWS = 500;
const MAX_DELETE_CHUNK = 200;

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

/** What message retention deleted in one run. */
export interface DeletedRows {
  messages: number;
  deliveries: number;
  attempts: number;
  /** Hourly counts of attempts (the activity charts) of hours past retention. */
  activityHours: number;
}

/**
 * Deletes messages created before `now - retentionMs`, with their
 * deliveries, their attempts and their deliveries' restarts, a chunk of messages per transaction. A
 * message with a delivery still pending stays until that delivery is final.
 * Then the hourly counts of attempts whose hour ended by the cutoff.
 */
async function deleteExpiredMessages(store: Store, now: number, retentionMs: number): Promise<DeletedRows> {
  const cutoff = now - retentionMs;
  const deleted: DeletedRows = { messages: 0, deliveries: 0, attempts: 0, activityHours: 0 };
  let limit = MAX_DELETE_CHUNK / 4;
  for (;;) {
    const { selected, ...chunk } = await store.transaction(({ tx }) => deleteExpiredMessageChunk(tx, cutoff, limit));
    deleted.messages += chunk.messages;
    deleted.deliveries += chunk.deliveries;
    deleted.attempts += chunk.attempts;
    if (selected < limit) {
      // A client has a row per consumer and hour, so a run of the job deletes few: one statement.
      deleted.activityHours = await deleteActivityHoursBefore(store, cutoff);
      return deleted;
    }
    const rowsPerMessage = (chunk.messages + chunk.deliveries + chunk.attempts) / Math.max(chunk.messages, 1);
    limit = Math.max(1, Math.min(MAX_DELETE_CHUNK, Math.floor(DELETE_TARGET_ROWS / rowsPerMessage)));
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

export type RetentionSettings = Pick<Config, "messages" | "idempotencyKeyTtlMs" | "insight">;

export interface RetentionRun {
  payloads: number;
  responseExcerpts: number;
  idempotencyKeys: number;
  linkSteps: number;
  deleted: DeletedRows;
}

/**
 * Removes what outlived its time: idempotency keys past their TTL (their
 * stored answer holds the published events); unless message retention is
 * off, messages older than it with all their rows; and, unless payload
 * retention is off, message bodies and attempts' response excerpts (a
 * receiver may echo the event) older than the payload retention; and,
 * unless their retention is off, link steps older than it. Messages
 * go before bodies, so that a body about to be deleted is not emptied first.
 */
export async function purgeExpired(store: Store, now: number, settings: RetentionSettings): Promise<RetentionRun> {
  const idempotencyKeys = await inChunks((limit) => deleteIdempotencyKeys(store, now - settings.idempotencyKeyTtlMs, limit));
  const { stepRetentionMs } = settings.insight;
  const linkSteps = stepRetentionMs === null ? 0 : await inChunks((limit) => deleteLinkStepsBefore(store, now - stepRetentionMs, limit));
  const { messageRetentionMs, payloadRetentionMs } = settings.messages;
  const deleted =
    messageRetentionMs === null ? { messages: 0, deliveries: 0, attempts: 0, activityHours: 0 } : await deleteExpiredMessages(store, now, messageRetentionMs);
  if (payloadRetentionMs === null) return { payloads: 0, responseExcerpts: 0, idempotencyKeys, linkSteps, deleted };
  const payloads = await purgeExpiredPayloads(store, now, payloadRetentionMs);
  const responseExcerpts = await inChunks((limit) => clearResponseExcerpts(store, now - payloadRetentionMs, limit));
  return { payloads, responseExcerpts, idempotencyKeys, linkSteps, deleted };
}
