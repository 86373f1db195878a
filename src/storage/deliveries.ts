import type { Store } from "./database.ts";
import type { DeliveryStatus } from "./schema.ts";

/** A claimed delivery with what sending it needs. */
export interface DueDelivery {
  id: string;
  clientId: string;
  messageId: string;
  consumerId: string;
  attemptCount: number;
  status: DeliveryStatus;
  body: string;
  url: string;
  disabled: boolean;
  signingSecret: string;
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

/**
 * Leases up to `limit` due deliveries to `owner` until `leaseUntil`, oldest
 * due first. One statement, so two workers never get the same row: SQLite
 * serialises writers, and PostgreSQL skips rows another worker has locked.
 * A lease that ran out (its worker died) makes the row claimable again.
 */
export async function claimDueDeliveries(store: Store, owner: string, now: number, leaseUntil: number, limit: number): Promise<DueDelivery[]> {
  const { db } = store;
  let due = db
    .selectFrom("deliveries")
    .select("id")
    .where("next_attempt_at", "<=", now)
    .where((eb) => eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<", now)]))
    .orderBy("next_attempt_at")
    .limit(limit);
  if (store.dialect === "postgres") due = due.forUpdate().skipLocked();
  const claimed = await store.transaction((tx) =>
    tx.updateTable("deliveries").set({ lease_owner: owner, lease_expires_at: leaseUntil }).where("id", "in", due).returning("id").execute(),
  );
  if (claimed.length === 0) return [];
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
      "messages.body",
      "consumers.url",
      "consumers.disabled",
      "consumers.signing_secret as signingSecret",
    ])
    .where("deliveries.id", "in", claimed.map((row) => row.id))
    .where("deliveries.lease_owner", "=", owner)
    .orderBy("deliveries.next_attempt_at")
    .execute();
  return rows.map((row) => ({ ...row, disabled: row.disabled === 1 }));
}

/** Records a batch of attempt outcomes in one transaction and releases their leases. */
export async function recordOutcomes(store: Store, owner: string, now: number, updates: DeliveryUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  await store.transaction(async (tx) => {
    const attempts = updates.flatMap(({ deliveryId, attemptCount, attempt }) =>
      attempt
        ? [{
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
          }]
        : [],
    );
    if (attempts.length > 0) await tx.insertInto("attempts").values(attempts).execute();
    // Deliveries that end in the same state share one UPDATE: in the common case a whole batch succeeds at its first attempt.
    const groups = new Map<string, DeliveryUpdate[]>();
    for (const update of updates) {
      const key = `${update.status} ${update.attemptCount} ${update.nextAttemptAt}`;
      groups.set(key, [...(groups.get(key) ?? []), update]);
    }
    for (const group of groups.values()) {
      const { status, attemptCount, nextAttemptAt } = group[0]!;
      await tx
        .updateTable("deliveries")
        .set({ status, attempt_count: attemptCount, next_attempt_at: nextAttemptAt, lease_owner: null, lease_expires_at: null, updated_at: now })
        .where("id", "in", group.map((update) => update.deliveryId))
        .where("lease_owner", "=", owner)
        .execute();
    }
  });
}

/**
 * When the earliest unleased pending delivery falls due, or null when there is
 * none. Deliveries leased by a worker that died are found by the idle poll
 * once their lease runs out.
 */
export async function nextDueAt(store: Store): Promise<number | null> {
  const row = await store.db
    .selectFrom("deliveries")
    .select((eb) => eb.fn.min("next_attempt_at").as("due"))
    .where("next_attempt_at", "is not", null)
    .where("lease_owner", "is", null)
    .executeTakeFirst();
  return row?.due === undefined || row.due === null ? null : Number(row.due);
}
