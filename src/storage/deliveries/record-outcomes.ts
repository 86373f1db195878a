import { sql } from "kysely";
import type { AttemptId, ClientId, ConsumerId, DeliveryId, MessageId } from "../../ids.ts";
import { insertAttempts } from "../attempts.ts";
import type { Store, UnitOfWork } from "../database.ts";
import { jsonRecords } from "../json-records.ts";
import type { AttemptsTable, DeliveryStatus } from "../schema.ts";

/** The new state of a delivery after one attempt, or after an attempt skipped while its consumer was disabled. */
export interface DeliveryUpdate {
  deliveryId: DeliveryId;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: number | null;
  attempt: {
    id: AttemptId;
    clientId: ClientId;
    messageId: MessageId;
    consumerId: ConsumerId;
    startedAt: number;
    durationMs: number;
    statusCode: number | null;
    responseExcerpt: string | null;
    error: string | null;
    succeeded: boolean;
  } | null;
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
  alsoRecord?: (uow: UnitOfWork) => Promise<void>,
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
  await store.transaction(async (uow) => {
    const { tx } = uow;
    await insertAttempts(tx, attempts);
    await sql`UPDATE deliveries
      SET status = u.status, attempt_count = u.attempt_count, next_attempt_at = u.next_attempt_at,
          lease_owner = NULL, rate_slot_at = NULL, unrecorded_claims = 0, updated_at = ${now}
      FROM ${jsonRecords(tx, "deliveries", outcomes, "u", ["id", "status", "attempt_count", "next_attempt_at"])}
      WHERE deliveries.id = u.id AND deliveries.lease_owner = ${owner}`.execute(tx);
    await alsoRecord?.(uow);
  });
}
