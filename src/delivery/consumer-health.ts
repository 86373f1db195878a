import { isoDate } from "../clock.ts";
import type { DeliveryConfig } from "../config.ts";
import { CONSUMER_DISABLED, type ConsumerDisabledPayload } from "../domain/events/operational.ts";
import { recordEvent } from "../domain/events/outbox.ts";
import { isOrdered } from "../constants/statuses.ts";
import type { ConsumerId, DeliveryId } from "../ids.ts";
import { closeCircuits, countUnreachable } from "../storage/consumer-circuit.ts";
import { disableConsumers, endFailureStreaks, startFailureStreaks } from "../storage/consumer-health.ts";
import type { UnitOfWork } from "../storage/database.ts";
import type { DueDelivery } from "../storage/deliveries/claim-batch.ts";
import { designateProbe, parkDeliveries, RELEASE_STEP, releaseParked } from "../storage/deliveries/park.ts";
import type { DeliveryUpdate } from "../storage/deliveries/record-outcomes.ts";

/** What the consumer health rules read of the delivery settings. */
export type HealthConfig = Pick<DeliveryConfig, "autoDisableAfterMs" | "circuitBreaker">;

/** How a batch changes its consumers' health. Empty in the common case, where nothing needs writing. */
export interface HealthChanges {
  /** Consumers that succeeded after failing: their streak ends. */
  recovered: ConsumerId[];
  /** Consumers whose first failure since their last success is in this batch. */
  startedFailing: ConsumerId[];
  /** Consumers still failing after the auto-disable period. */
  overdue: ConsumerId[];
  /** Consumers that answered 410 Gone: the endpoint says it is gone for good, so they are disabled at once. */
  gone: ConsumerId[];
  /** Consumers that answered (any status below 500) after attempts that found them unreachable, or while their circuit was open: the run ends and the circuit closes. */
  reachable: ConsumerId[];
  /**
   * Consumers this batch found unreachable (no answer, or a 5xx) and never reached, with how many
   * attempts did, and those of the deliveries still pending: they are parked if the circuit opens.
   * Only counted while the circuit breaker is on.
   */
  unreachable: Array<{ consumerId: ConsumerId; count: number; pending: DeliveryId[]; ordered: boolean }>;
}

/** A consumer whose circuit was opened or closed by a batch's record, for the log. */
export interface CircuitChange {
  consumerId: ConsumerId;
  change: "opened" | "reopened" | "closed";
  consecutiveFailures: number;
  /** When the next probe may go; null once closed. */
  openUntil: number | null;
  /** Closed with more parked deliveries than its record released: the worker releases the rest in steps. */
  moreParked?: boolean;
}

/** A consumer failing since this time or earlier has failed for the whole auto-disable period at `now`. */
export const autoDisableCutoff = (now: number, autoDisableAfterMs: number): number => now - autoDisableAfterMs;

/** An attempt that found the consumer unreachable: no answer at all, or a server error. A 4xx is an answer. */
const unreachableAttempt = (statusCode: number | null) => statusCode === null || statusCode >= 500;

/**
 * Reads a batch's outcomes against each consumer's state as it was claimed.
 * A success in the batch ends a failure streak; attempts skipped while a
 * consumer was disabled count neither way, nor do attempts whose worker died
 * (their outcome is unknown).
 */
export function healthChanges(batch: readonly DueDelivery[], updates: readonly DeliveryUpdate[], now: number, config: HealthConfig): HealthChanges {
  const outcomes = new Map<
    ConsumerId,
    { claimed: DueDelivery; succeeded: boolean; reached: boolean; gone: boolean; unreachable: number; pending: DeliveryId[] }
  >();
  updates.forEach((update, index) => {
    if (update.attempt === null) return;
    const claimed = batch[index]!;
    const seen = outcomes.get(claimed.consumerId) ?? { claimed, succeeded: false, reached: false, gone: false, unreachable: 0, pending: [] };
    const { statusCode, succeeded } = update.attempt;
    seen.succeeded ||= succeeded;
    if (claimed.lostClaims === 0) {
      if (unreachableAttempt(statusCode)) {
        seen.unreachable++;
        if (update.nextAttemptAt !== null) seen.pending.push(claimed.id);
      } else seen.reached = true;
    }
    seen.gone ||= statusCode === 410;
    outcomes.set(claimed.consumerId, seen);
  });
  const changes: HealthChanges = { recovered: [], startedFailing: [], overdue: [], gone: [], reachable: [], unreachable: [] };
  for (const [consumerId, { claimed, succeeded, reached, gone, unreachable, pending }] of outcomes) {
    const { failingSince } = claimed;
    if (succeeded) {
      if (failingSince !== null) changes.recovered.push(consumerId);
    } else if (failingSince === null) changes.startedFailing.push(consumerId);
    else if (failingSince <= autoDisableCutoff(now, config.autoDisableAfterMs)) changes.overdue.push(consumerId);
    if (gone) changes.gone.push(consumerId);
    if (reached) {
      if (claimed.consecutiveFailures > 0 || claimed.circuitOpenUntil !== null) changes.reachable.push(consumerId);
    } else if (unreachable > 0 && config.circuitBreaker !== null)
      changes.unreachable.push({ consumerId, count: unreachable, pending, ordered: isOrdered(claimed.ordering) });
  }
  return changes;
}

export const hasHealthChanges = (changes: HealthChanges) =>
  changes.recovered.length +
    changes.startedFailing.length +
    changes.overdue.length +
    changes.gone.length +
    changes.reachable.length +
    changes.unreachable.length >
  0;

/**
 * Writes the changes in the transaction that records the batch: streaks,
 * circuits, and the consumers disabled (overdue, or gone), each with a
 * `webhook.consumer.disabled` event for the client's other consumers. The
 * conditions are checked again in SQL, so a success another worker recorded
 * meanwhile keeps a consumer enabled. Returns the circuits that opened or
 * closed, for the caller to log once the record commits.
 */
export async function recordHealthChanges(uow: UnitOfWork, now: number, config: HealthConfig, changes: HealthChanges): Promise<CircuitChange[]> {
  const { tx } = uow;
  if (changes.recovered.length > 0) await endFailureStreaks(tx, changes.recovered);
  if (changes.startedFailing.length > 0) await startFailureStreaks(tx, changes.startedFailing, now);
  const circuits: CircuitChange[] = [];
  if (changes.reachable.length > 0) {
    const closed = await closeCircuits(tx, changes.reachable);
    // Deliveries parked while the circuit was open go now, oldest first as ever: the first step here, the rest by the worker.
    const more = new Set(await releaseParked(uow, closed, now, RELEASE_STEP));
    for (const { consumerId } of closed)
      circuits.push({ consumerId, change: "closed", consecutiveFailures: 0, openUntil: null, moreParked: more.has(consumerId) });
  }
  if (config.circuitBreaker !== null) {
    for (const { consumerId, count, pending, ordered } of changes.unreachable) {
      const circuit = await countUnreachable(tx, consumerId, count, now, config.circuitBreaker);
      if (circuit?.openUntil == null) continue;
      // What failed waits with the rest, and one of them (not always the same) goes as the next probe.
      await parkDeliveries(tx, pending);
      await designateProbe(tx, consumerId, circuit.openUntil, ordered ? "head of line" : "fewest attempts");
      circuits.push({ consumerId, change: circuit.wasOpen ? "reopened" : "opened", ...circuit });
    }
  }
  const overdue = changes.overdue.length === 0 ? [] : await disableConsumers(tx, changes.overdue, autoDisableCutoff(now, config.autoDisableAfterMs));
  const gone = changes.gone.length === 0 ? [] : await disableConsumers(tx, changes.gone);
  for (const [disabled, reason] of [
    ...overdue.map((consumer) => [consumer, disabledReason(consumer.failing_since!, config.autoDisableAfterMs)] as const),
    ...gone.map((consumer) => [consumer, GONE_REASON] as const),
  ]) {
    const payload: ConsumerDisabledPayload = { consumerId: disabled.id, url: disabled.url, reason, disabledAt: isoDate(now) };
    await recordEvent(uow, { clientId: disabled.client_id, eventType: CONSUMER_DISABLED, company: null, payload, generatedAt: now });
  }
  return circuits;
}

/** Why a consumer that answered 410 was disabled, as its `webhook.consumer.disabled` event says. */
export const GONE_REASON = "The endpoint answered 410 Gone: it asked not to be sent anything more";

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
