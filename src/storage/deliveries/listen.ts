import { newId, type AttemptId, type ClientId, type ConsumerId, type DeliveryId, type MessageId } from "../../ids.ts";
import { insertAttempts } from "../attempts.ts";
import type { Db, Store } from "../database.ts";
import { readBodies } from "../messages.ts";

/** A delivery handed to a listening CLI: its message as signed. */
export interface StreamedDelivery {
  deliveryId: DeliveryId;
  messageId: MessageId;
  body: string;
}

/**
 * Takes a listen consumer's deliveries that no stream holds yet, oldest
 * first, for `owner` (the stream of that consumer, while it is the newest:
 * consumers.ts, takeListenStream). They stay parked, so a
 * worker never claims them; what a stream held when it ended is handed back
 * by `releaseStreamed`, or taken over by the consumer's next stream.
 */
export async function claimStreamed(store: Store, consumerId: ConsumerId, owner: string, limit: number): Promise<StreamedDelivery[]> {
  const claimed = await store.writeStatement((db) =>
    db
      .updateTable("deliveries")
      .set({ lease_owner: owner })
      .where("id", "in", (eb) =>
        eb
          .selectFrom("deliveries")
          .select("id")
          .where("consumer_id", "=", consumerId)
          .where("parked_reason", "=", "listen")
          .where("lease_owner", "is", null)
          // Only the consumer's newest stream takes: one whose connection died unseen must not take what its CLI's next should get.
          .where((eb) => eb.exists(eb.selectFrom("consumers").select("id").where("id", "=", consumerId).where("listen_stream", "=", owner)))
          .orderBy("created_at")
          .limit(limit),
      )
      .returning(["id", "message_id", "created_at"])
      .execute(),
  );
  if (claimed.length === 0) return [];
  const bodies = await readBodies(
    store.db,
    claimed.map((row) => row.message_id),
  );
  return claimed
    .sort((a, b) => a.created_at - b.created_at)
    .map((row) => ({ deliveryId: row.id, messageId: row.message_id, body: bodies.get(row.message_id) ?? "" }));
}

/** Hands back what a stream (`owner`), or every stream of the consumer, held and did not answer for: a stream of the consumer sends it again. */
export function releaseStreamed(store: Store, consumerId: ConsumerId, owner?: string): Promise<unknown> {
  return store.writeStatement((db: Db) =>
    db
      .updateTable("deliveries")
      .set({ lease_owner: null })
      .where("consumer_id", "=", consumerId)
      .where("lease_owner", owner === undefined ? "is not" : "=", owner ?? null)
      .execute(),
  );
}

export interface StreamedOutcome {
  clientId: ClientId;
  consumerId: ConsumerId;
  deliveryId: DeliveryId;
  now: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  responseExcerpt: string | null;
  error: string | null;
}

/**
 * Records the one attempt of a streamed delivery, final either way (the
 * listening developer sees each event once, as `stripe listen` does). A
 * delivery a stream of the consumer holds is recorded, and only once: a
 * second report finds it no longer held and changes nothing. Returns whether it recorded.
 */
export function recordStreamed(store: Store, outcome: StreamedOutcome): Promise<boolean> {
  const succeeded = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
  return store.transaction(async ({ tx }) => {
    const held = await tx
      .updateTable("deliveries")
      .set({
        status: succeeded ? "Success" : "Failure",
        attempt_count: (eb) => eb("attempt_count", "+", 1),
        next_attempt_at: null,
        parked_reason: null,
        lease_owner: null,
        updated_at: outcome.now,
      })
      .where("id", "=", outcome.deliveryId)
      .where("client_id", "=", outcome.clientId)
      .where("consumer_id", "=", outcome.consumerId)
      // Only the consumer's streams hold its deliveries (no worker claims them).
      .where("lease_owner", "is not", null)
      .returning(["message_id", "attempt_count"])
      .executeTakeFirst();
    if (held === undefined) return false;
    await insertAttempts(tx, [
      {
        id: newId<AttemptId>(),
        client_id: outcome.clientId,
        delivery_id: outcome.deliveryId,
        message_id: held.message_id,
        consumer_id: outcome.consumerId,
        attempt_number: held.attempt_count,
        started_at: outcome.startedAt,
        duration_ms: outcome.durationMs,
        status_code: outcome.statusCode,
        response_excerpt: outcome.responseExcerpt,
        error: outcome.error,
        succeeded: succeeded ? 1 : 0,
      },
    ]);
    return true;
  });
}
