import type { DeliveryUpdate } from "../storage/deliveries/record-outcomes.ts";

/** What became of one due delivery: delivered, failed with a retry scheduled, failed for good, or skipped while its consumer was disabled. */
export type AttemptOutcome = "success" | "retrying" | "failed" | "skipped";

/** What one recorded batch adds to the delivery metrics. */
export interface DeliveryMetricsDelta {
  outcomes: Partial<Record<AttemptOutcome, number>>;
  /** How long each attempt made took, in ms. */
  durationsMs: number[];
}

function outcomeOf(update: DeliveryUpdate): AttemptOutcome {
  if (update.attempt === null) return "skipped";
  if (update.status === "Success") return "success";
  return update.status === "Failure" ? "failed" : "retrying";
}

export function batchMetrics(updates: readonly DeliveryUpdate[]): DeliveryMetricsDelta {
  const delta: DeliveryMetricsDelta = { outcomes: {}, durationsMs: [] };
  for (const update of updates) {
    const outcome = outcomeOf(update);
    delta.outcomes[outcome] = (delta.outcomes[outcome] ?? 0) + 1;
    if (update.attempt) delta.durationsMs.push(update.attempt.durationMs);
  }
  return delta;
}
