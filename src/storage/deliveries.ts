import { sql } from "kysely";
import type { ConsumerId } from "../ids.ts";
import type { Clock } from "../clock.ts";
import type { Db, Store, Tx } from "./database.ts";
import { dialectOf } from "./dialect/index.ts";
import { insertRecords, jsonRecords } from "./json-records.ts";
import type { AttemptsTable, DeliveryStatus } from "./schema.ts";

/** A claimed delivery with what sending it needs. */
export interface DueDelivery {
  id: string;
  clientId: string;
  messageId: string;
  consumerId: string;
  attemptCount: number;
  status: DeliveryStatus;
  /** Claims of this delivery before this one that ended without a recorded outcome: their worker died while sending. */
  lostClaims: number;
  url: string;
  disabled: boolean;
  /** The consumer's secrets as stored, sealed: the worker opens them once per consumer of a batch (delivery/batch-secrets.ts). */
  signingSecret: string;
  /** Rotated-out secrets that still sign beside the current one until they expire, as stored; null when there are none. */
  previousSecrets: string | null;
  /** The consumer's own headers as stored; null when it has none. */
  customHeaders: string | null;
  /** The consumer's mTLS client certificate, its private key still sealed; null without mTLS. */
  clientCertificate: StoredClientCertificate | null;
  /** When the consumer's current streak of failed attempts began; null while it succeeds. */
  failingSince: number | null;
}

export interface StoredClientCertificate {
  consumerId: string;
  certificate: string;
  /** The PEM private key sealed by SecretBox for the consumer. */
  sealedKey: string;
}

/** A claimed batch: its deliveries, and the bodies of the messages the sendable ones carry, each once. */
export interface LeasedBatch {
  deliveries: DueDelivery[];
  /** Event bodies by message id, exactly as signed: one copy however many consumers a message goes to. */
  bodies: Map<string, string>;
}

/** The new state of a delivery after one attempt, or after an attempt skipped while its consumer was disabled. */
export interface DeliveryUpdate {
  deliveryId: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: number | null;
  attempt: {
    id: string;
    clientId: string;
    messageId: string;
    consumerId: string;
    startedAt: number;
    durationMs: number;
    statusCode: number | null;
    responseExcerpt: string | null;
    error: string | null;
    succeeded: boolean;
  } | null;
}

/** A lease's token and the deliveries it took. */
export interface Lease {
  owner: string;
  ids: string[];
  /** When the lease runs out and another worker may take the deliveries over. */
  expiresAt: number;
}

/**
 * Leases up to `limit` due deliveries to `owner` for `leaseMs`, oldest due
 * first. One statement, so two workers never get the same row: SQLite
 * serialises writers, and PostgreSQL skips rows another worker has locked.
 * A lease moves the delivery's due time to the lease's end, as a queue's
 * visibility timeout does: the claim scans only what is due, never the rows
 * in flight, and a delivery whose worker died falls due again by itself.
 * It runs in the caller's transaction, so a worker can take its next batch
 * in the one that records the last.
 */
export async function leaseDueDeliveries(tx: Db, owner: string, now: number, leaseMs: number, limit: number): Promise<Lease> {
  let due = tx.selectFrom("deliveries").select("id").where("next_attempt_at", "<=", now).orderBy("next_attempt_at").limit(limit);
  due = dialectOf(tx).claimRows(due);
  const expiresAt = now + leaseMs;
  const leased = await tx
    .updateTable("deliveries")
    .set((eb) => ({ lease_owner: owner, next_attempt_at: expiresAt, unrecorded_claims: eb("unrecorded_claims", "+", 1) }))
    .where("id", "in", due)
    .returning("id")
    .execute();
  return { owner, ids: leased.map((row) => row.id), expiresAt };
}

/**
 * What sending a lease's deliveries needs, with their consumers and the
 * bodies of their messages. Bodies are read once per message, a consumer's
 * settings are parsed once per batch (its deliveries share them, and so
 * does the copy the sender thread gets), and a batch holds at most
 * `bodyBudgetBytes` of bodies and custom headers (UTF-8 bytes, as sent; the
 * headers count for each delivery, since each request carries them), at
 * least one delivery's: the rest of the lease goes back to the queue, due
 * now. So one large event to hundreds of consumers costs one body, and the
 * memory of everything in flight has a bound in bytes whatever tenants send.
 * Deliveries to rate-limited consumers are paced: those whose send slot lies
 * ahead go back to the queue, and only the others are returned.
 */
export async function readLease(store: Store, { owner, ids }: Lease, clock: Clock, bodyBudgetBytes: number): Promise<LeasedBatch> {
  const { db } = store;
  if (ids.length === 0) return { deliveries: [], bodies: new Map() };
  const claimed = ids.map((id) => ({ id }));
  const rows = await db
    .selectFrom("deliveries")
    .innerJoin("messages", "messages.id", "deliveries.message_id")
    .innerJoin("consumers", "consumers.id", "deliveries.consumer_id")
    .select([
      "deliveries.id",
      "deliveries.client_id as clientId",
      "deliveries.message_id as messageId",
      "deliveries.consumer_id as consumerId",
      "deliveries.attempt_count as attemptCount",
      "deliveries.status",
      "deliveries.unrecorded_claims as unrecordedClaims",
      sql<number>`octet_length(messages.body)`.as("bodyBytes"),
      sql<number>`coalesce(octet_length(consumers.custom_headers), 0)`.as("headerBytes"),
      "consumers.url",
      "consumers.disabled",
      "consumers.signing_secret as signingSecret",
      "consumers.previous_secrets as previousSecrets",
      "consumers.custom_headers as customHeaders",
      "consumers.mtls_certificate as mtlsCertificate",
      "consumers.mtls_private_key as mtlsPrivateKey",
      "consumers.failing_since as failingSince",
      "consumers.rate_limit as rateLimit",
      "deliveries.rate_slot_at as rateSlotAt",
    ])
    .where(sql<boolean>`deliveries.id IN (SELECT id FROM ${jsonRecords(db, "deliveries", claimed, "claimed", ["id"])})`)
    .where("deliveries.lease_owner", "=", owner)
    // Ids are time-ordered: the oldest deliveries are sent first.
    .orderBy("deliveries.id")
    .execute();
  // A delivery whose consumer was deleted meanwhile (a resend or replay racing the deletion) has nothing to go to.
  const found = new Set(rows.map((row) => row.id));
  const orphans = claimed.filter((row) => !found.has(row.id)).map((row) => row.id);
  if (orphans.length > 0) await store.writeStatement((db) => db.deleteFrom("deliveries").where("id", "in", orphans).where("lease_owner", "=", owner).execute());
  // Only an attempt to send needs the body: skipped (disabled) and lost claims are recorded without one.
  const sends = (row: (typeof rows)[number]) => row.disabled === 0 && row.unrecordedClaims <= 1;
  const batch: typeof rows = [];
  const overBudget: string[] = [];
  const budgeted = new Set<string>();
  let bytes = 0;
  let sending = 0;
  for (const row of rows) {
    if (sends(row)) {
      const cost = Number(row.headerBytes) + (budgeted.has(row.messageId) ? 0 : Number(row.bodyBytes));
      if (sending > 0 && bytes + cost > bodyBudgetBytes) {
        overBudget.push(row.id);
        continue;
      }
      budgeted.add(row.messageId);
      bytes += cost;
      sending++;
    }
    batch.push(row);
  }
  if (overBudget.length > 0) {
    await store.writeStatement((db) =>
      db
        .updateTable("deliveries")
        .set((eb) => ({ lease_owner: null, next_attempt_at: clock.now(), unrecorded_claims: eb("unrecorded_claims", "-", 1) }))
        .where("id", "in", overBudget)
        .where("lease_owner", "=", owner)
        .execute(),
    );
  }
  // Consumers without a rate limit (the common case) cost nothing more; disabled ones are skipped, not paced.
  const limited = batch.filter((row) => row.rateLimit !== null && sends(row));
  const waiting = limited.length > 0 ? await paceRateLimited(store, owner, clock, limited) : new Set<string>();
  const deliveries = batch
    .filter((row) => !waiting.has(row.id))
    .map((row): DueDelivery => ({
      id: row.id,
      clientId: row.clientId,
      messageId: row.messageId,
      consumerId: row.consumerId,
      attemptCount: row.attemptCount,
      status: row.status,
      lostClaims: row.unrecordedClaims - 1,
      url: row.url,
      disabled: row.disabled === 1,
      signingSecret: row.signingSecret,
      previousSecrets: row.previousSecrets,
      customHeaders: row.customHeaders,
      clientCertificate:
        row.mtlsCertificate !== null && row.mtlsPrivateKey !== null
          ? { consumerId: row.consumerId, certificate: row.mtlsCertificate, sealedKey: row.mtlsPrivateKey }
          : null,
      failingSince: row.failingSince,
    }));
  const messageIds = [...new Set(batch.filter((row) => sends(row) && !waiting.has(row.id)).map((row) => row.messageId))];
  return { deliveries, bodies: await readBodies(db, messageIds) };
}

/** The bodies of these messages, by id. */
async function readBodies(db: Store["db"], messageIds: readonly string[]): Promise<Map<string, string>> {
  if (messageIds.length === 0) return new Map();
  const wanted = messageIds.map((id) => ({ id }));
  const rows = await db
    .selectFrom("messages")
    .select(["id", "body"])
    .where(sql<boolean>`id IN (SELECT id FROM ${jsonRecords(db, "messages", wanted, "wanted", ["id"])})`)
    .execute();
  return new Map(rows.map((row) => [row.id, row.body]));
}

/** A slot still counts when its delivery is paced at most half a spacing late, or this long if that is longer. */
const MIN_SLOT_GRACE_MS = 25;

/**
 * Paces the claimed deliveries of rate-limited consumers: each send takes a
 * slot, and a consumer's slots are 1/limit seconds apart, so no second sees
 * more than its limit (one more when a slot is used a little late). The next
 * free slot lives on the consumer row, locked while it is read and moved, so
 * every worker sharing the database draws from the same sequence. A delivery
 * whose slot lies ahead is handed back, due at that slot and holding it;
 * when it is claimed again it sends in its slot, or takes a new one if it
 * was claimed too late. Returns the deliveries handed back.
 */
async function paceRateLimited(
  store: Store,
  owner: string,
  clock: Clock,
  rows: ReadonlyArray<{ id: string; consumerId: string; rateSlotAt: number | null }>,
): Promise<Set<string>> {
  return store.transaction(async ({ tx }) => {
    let query = tx
      .selectFrom("consumers")
      .select(["id", "rate_limit", "rate_next_at"])
      .where("id", "in", [...new Set(rows.map((row) => row.consumerId as ConsumerId))])
      .orderBy("id");
    query = store.dialect.lockRows(query);
    const consumers = await query.execute();
    // The time once the slots are ours, just before the sends start: lateness is measured against it.
    const now = clock.now();
    const waiting = new Map<string, number>();
    const slotsUsed: string[] = [];
    for (const consumer of consumers) {
      // The limit may have been lifted since the claim; then nothing waits.
      if (consumer.rate_limit === null) continue;
      const spacing = 1000 / consumer.rate_limit;
      const grace = Math.max(spacing / 2, MIN_SLOT_GRACE_MS);
      let nextFree = consumer.rate_next_at ?? 0;
      for (const row of rows) {
        if (row.consumerId !== consumer.id) continue;
        if (row.rateSlotAt !== null && row.rateSlotAt > now) {
          waiting.set(row.id, row.rateSlotAt);
          continue;
        }
        if (row.rateSlotAt !== null && now - row.rateSlotAt <= grace) {
          slotsUsed.push(row.id);
          continue;
        }
        const slot = Math.max(nextFree, now);
        nextFree = slot + spacing;
        if (slot > now) waiting.set(row.id, slot);
        else if (row.rateSlotAt !== null) slotsUsed.push(row.id);
      }
      if (nextFree !== (consumer.rate_next_at ?? 0))
        await tx
          .updateTable("consumers")
          .set({ rate_next_at: Math.ceil(nextFree) })
          .where("id", "=", consumer.id)
          .execute();
    }
    if (slotsUsed.length > 0) await tx.updateTable("deliveries").set({ rate_slot_at: null }).where("id", "in", slotsUsed).execute();
    if (waiting.size > 0) await handBack(tx, owner, waiting);
    return new Set(waiting.keys());
  });
}

/** Releases leased deliveries, each due at (and holding) its own slot: one statement for the lot. */
async function handBack(tx: Tx, owner: string, slots: ReadonlyMap<string, number>): Promise<void> {
  const slotOf = sql<number>`CASE id ${sql.join(
    [...slots].map(([id, slot]) => sql`WHEN ${id} THEN CAST(${Math.ceil(slot)} AS bigint)`),
    sql` `,
  )} END`;
  await tx
    .updateTable("deliveries")
    .set((eb) => ({ lease_owner: null, next_attempt_at: slotOf, rate_slot_at: slotOf, unrecorded_claims: eb("unrecorded_claims", "-", 1) }))
    .where("id", "in", [...slots.keys()])
    .where("lease_owner", "=", owner)
    .execute();
}

/**
 * Records a batch of attempt outcomes in one transaction and releases their
 * leases: one INSERT for the attempts and one UPDATE for the deliveries,
 * whatever the batch holds. A delivery whose lease this claim no longer
 * holds (resent and claimed again meanwhile) keeps its newer state; its
 * attempt is logged all the same, since the request was sent.
 */
export async function recordOutcomes(
  store: Store,
  owner: string,
  now: number,
  updates: DeliveryUpdate[],
  /** More to write in the same transaction (the consumers' failure streaks). */
  alsoRecord?: (tx: Tx, wakeWorkers: () => void) => Promise<void>,
): Promise<void> {
  if (updates.length === 0) return;
  const attempts = updates.flatMap(({ deliveryId, attemptCount, attempt }): AttemptsTable[] =>
    attempt
      ? [
          {
            id: attempt.id,
            client_id: attempt.clientId,
            delivery_id: deliveryId,
            message_id: attempt.messageId,
            consumer_id: attempt.consumerId,
            attempt_number: attemptCount,
            started_at: attempt.startedAt,
            duration_ms: attempt.durationMs,
            status_code: attempt.statusCode,
            response_excerpt: attempt.responseExcerpt,
            error: attempt.error,
            succeeded: attempt.succeeded ? 1 : 0,
          },
        ]
      : [],
  );
  const outcomes = updates.map(({ deliveryId, status, attemptCount, nextAttemptAt }) => ({
    id: deliveryId,
    status,
    attempt_count: attemptCount,
    next_attempt_at: nextAttemptAt,
  }));
  await store.transaction(async ({ tx, wakeWorkers: wakeWorkers }) => {
    await insertRecords(tx, "attempts", attempts);
    await sql`UPDATE deliveries
      SET status = u.status, attempt_count = u.attempt_count, next_attempt_at = u.next_attempt_at,
          lease_owner = NULL, rate_slot_at = NULL, unrecorded_claims = 0, updated_at = ${now}
      FROM ${jsonRecords(tx, "deliveries", outcomes, "u", ["id", "status", "attempt_count", "next_attempt_at"])}
      WHERE deliveries.id = u.id AND deliveries.lease_owner = ${owner}`.execute(tx);
    await alsoRecord?.(tx, wakeWorkers);
  });
}

/** When the earliest pending delivery falls due (a leased one when its lease runs out), or null when there is none. */
export async function nextDueAt(store: Store): Promise<number | null> {
  const row = await store.db
    .selectFrom("deliveries")
    .select((eb) => eb.fn.min("next_attempt_at").as("due"))
    .where("next_attempt_at", "is not", null)
    .executeTakeFirst();
  return row?.due === undefined || row.due === null ? null : Number(row.due);
}
