import { isoDate } from "../clock.ts";
import { CONSUMER_DISABLED, type ConsumerDisabledPayload } from "../domain/events/operational.ts";
import { recordEvent } from "../domain/events/outbox.ts";
import type { ConsumerId } from "../ids.ts";
import { disableFailingConsumers, endFailureStreaks, startFailureStreaks } from "../storage/consumer-health.ts";
import type { UnitOfWork } from "../storage/database.ts";
import type { DueDelivery } from "../storage/deliveries/claim-batch.ts";
import type { DeliveryUpdate } from "../storage/deliveries/record-outcomes.ts";

/** How a batch changes its consumers' failure streaks. Empty in the common case, where nothing needs writing. */
export interface HealthChanges {
  /** Consumers that succeeded after failing: their streak ends. */
  recovered: ConsumerId[];
  /** Consumers whose first failure since their last success is in this batch. */
  startedFailing: ConsumerId[];
  /** Consumers still failing after the auto-disable period. */
  overdue: ConsumerId[];
}

/** A consumer failing since this time or earlier has failed for the whole auto-disable period at `now`. */
export const autoDisableCutoff = (now: number, autoDisableAfterMs: number): number => now - autoDisableAfterMs;

/**
 * Reads a batch's outcomes against each consumer's failure streak as it was
 * claimed. A success in the batch ends a streak; attempts skipped while a
 * consumer was disabled count neither way.
 */
export function healthChanges(batch: readonly DueDelivery[], updates: readonly DeliveryUpdate[], now: number, autoDisableAfterMs: number): HealthChanges {
  const outcomes = new Map<ConsumerId, { failingSince: number | null; succeeded: boolean }>();
  updates.forEach((update, index) => {
    if (update.attempt === null) return;
    const { failingSince } = batch[index]!;
    const consumerId = batch[index]!.consumerId;
    const seen = outcomes.get(consumerId);
    outcomes.set(consumerId, { failingSince, succeeded: (seen?.succeeded ?? false) || update.attempt.succeeded });
  });
  const changes: HealthChanges = { recovered: [], startedFailing: [], overdue: [] };
  for (const [consumerId, { failingSince, succeeded }] of outcomes) {
    if (succeeded) {
      if (failingSince !== null) changes.recovered.push(consumerId);
    } else if (failingSince === null) changes.startedFailing.push(consumerId);
    else if (failingSince <= autoDisableCutoff(now, autoDisableAfterMs)) changes.overdue.push(consumerId);
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
export async function recordHealthChanges(uow: UnitOfWork, now: number, autoDisableAfterMs: number, changes: HealthChanges): Promise<void> {
  if (changes.recovered.length > 0) await endFailureStreaks(uow.tx, changes.recovered);
  if (changes.startedFailing.length > 0) await startFailureStreaks(uow.tx, changes.startedFailing, now);
  if (changes.overdue.length === 0) return;
  const disabled = await disableFailingConsumers(uow.tx, changes.overdue, autoDisableCutoff(now, autoDisableAfterMs));
  for (const consumer of disabled) {
    const payload: ConsumerDisabledPayload = {
      consumerId: consumer.id,
      url: consumer.url,
      reason: disabledReason(consumer.failing_since!, autoDisableAfterMs),
      disabledAt: isoDate(now),
    };
    await recordEvent(uow, { clientId: consumer.client_id, eventType: CONSUMER_DISABLED, company: null, payload, generatedAt: now });
  }
}

/** Why a consumer was disabled, as its `webhook.consumer.disabled` event says. */
export const disabledReason = (failingSince: number, autoDisableAfterMs: number): string =>
  `Every delivery attempt failed since ${isoDate(failingSince)} (${formatPeriod(autoDisableAfterMs)})`;

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
