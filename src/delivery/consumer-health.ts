import { isoDate } from "../clock.ts";
import { CONSUMER_DISABLED, type ConsumerDisabledPayload } from "../domain/events/operational.ts";
import { recordEvent } from "../domain/events/outbox.ts";
import type { Tx } from "../storage/database.ts";
import type { DueDelivery } from "../storage/deliveries/claim-batch.ts";
import type { DeliveryUpdate } from "../storage/deliveries/record-outcomes.ts";

/** How a batch changes its consumers' failure streaks. Empty in the common case, where nothing needs writing. */
export interface HealthChanges {
  /** Consumers that succeeded after failing: their streak ends. */
  recovered: string[];
  /** Consumers whose first failure since their last success is in this batch. */
  startedFailing: string[];
  /** Consumers still failing after the auto-disable period. */
  overdue: string[];
}

/**
 * Reads a batch's outcomes against each consumer's failure streak as it was
 * claimed. A success in the batch ends a streak; attempts skipped while a
 * consumer was disabled count neither way.
 */
export function healthChanges(batch: readonly DueDelivery[], updates: readonly DeliveryUpdate[], now: number, autoDisableAfterMs: number): HealthChanges {
  const outcomes = new Map<string, { failingSince: number | null; succeeded: boolean }>();
  updates.forEach((update, index) => {
    if (update.attempt === null) return;
    const { consumerId, failingSince } = batch[index]!;
    const seen = outcomes.get(consumerId);
    outcomes.set(consumerId, { failingSince, succeeded: (seen?.succeeded ?? false) || update.attempt.succeeded });
  });
  const changes: HealthChanges = { recovered: [], startedFailing: [], overdue: [] };
  for (const [consumerId, { failingSince, succeeded }] of outcomes) {
    if (succeeded) {
      if (failingSince !== null) changes.recovered.push(consumerId);
    } else if (failingSince === null) changes.startedFailing.push(consumerId);
    else if (now - failingSince >= autoDisableAfterMs) changes.overdue.push(consumerId);
  }
  return changes;
}

export const hasHealthChanges = (changes: HealthChanges) => changes.recovered.length + changes.startedFailing.length + changes.overdue.length > 0;

/**
 * Writes the streak changes in the transaction that records the batch, and
 * disables the overdue consumers there too, each with a
 * `webhook.consumer.disabled` event for the client's other consumers. The
 * conditions are checked again in SQL, so a success another worker recorded
 * meanwhile keeps a consumer enabled.
 */
export async function recordHealthChanges(tx: Tx, wakeWorkers: () => void, now: number, autoDisableAfterMs: number, changes: HealthChanges): Promise<void> {
  if (changes.recovered.length > 0) {
    await tx.updateTable("consumers").set({ failing_since: null }).where("id", "in", changes.recovered).execute();
  }
  if (changes.startedFailing.length > 0) {
    await tx.updateTable("consumers").set({ failing_since: now }).where("id", "in", changes.startedFailing).where("failing_since", "is", null).execute();
  }
  if (changes.overdue.length === 0) return;
  const disabled = await tx
    .updateTable("consumers")
    .set({ disabled: 1 })
    .where("id", "in", changes.overdue)
    .where("disabled", "=", 0)
    .where("failing_since", "<=", now - autoDisableAfterMs)
    .returning(["id", "client_id", "url", "failing_since"])
    .execute();
  for (const consumer of disabled) {
    const payload: ConsumerDisabledPayload = {
      consumerId: consumer.id,
      url: consumer.url,
      reason: `Every delivery attempt failed since ${isoDate(consumer.failing_since!)} (${formatPeriod(autoDisableAfterMs)})`,
      disabledAt: isoDate(now),
    };
    await recordEvent(tx, wakeWorkers, { clientId: consumer.client_id, eventType: CONSUMER_DISABLED, company: null, payload, generatedAt: now });
  }
}

/** "5 days", "36 hours", "90 seconds": the period in its largest whole unit. */
function formatPeriod(ms: number): string {
  for (const [unit, size] of [
    ["day", 86_400_000],
    ["hour", 3_600_000],
    ["minute", 60_000],
    ["second", 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}${ms === size ? "" : "s"}`;
  }
  return `${ms} ms`;
}
