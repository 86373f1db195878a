import type { Clock } from "../clock.ts";
import { prepareRequest } from "./pipeline/prepare.ts";
import type { AttemptResult, SendBatch } from "./pipeline/request.ts";
import { send } from "./pipeline/send.ts";
import { sign } from "./pipeline/sign.ts";
import { transform } from "./pipeline/transform.ts";
import { unsent, type WebhookSender } from "./sender.ts";

/** The results of a batch's attempts so far, in the batch's order: undefined where an attempt is still unanswered. */
export type EarlyResults = ReadonlyArray<AttemptResult | undefined>;

/**
 * Sends a batch's attempts; the sender thread does it for the worker. When
 * some are still unanswered after the slow-consumer time, `early` is told,
 * once, what has come back by then; the promise holds every result.
 */
export interface BatchSender {
  send(batch: SendBatch, early?: (results: EarlyResults) => void): Promise<AttemptResult[]>;
}

/**
 * One packed batch's path in the sender thread (the worker packed it, see
 * packBatch): each attempt is prepared, transformed, signed at the time it
 * starts and sent, all of them concurrently. If some are still unanswered
 * after `earlyAfterMs`, `early` gets the results so far, once.
 */
export async function sendBatch(
  sender: WebhookSender,
  clock: Clock,
  { bodies, requests }: SendBatch,
  early: (results: EarlyResults) => void,
  earlyAfterMs: number,
): Promise<AttemptResult[]> {
  const results = new Array<AttemptResult | undefined>(requests.length).fill(undefined);
  const timer = setTimeout(() => early(results.slice()), earlyAfterMs);
  try {
    return await Promise.all(
      requests.map(async (packed, index) => {
        if ("unsendable" in packed) return (results[index] = { ...unsent(packed.unsendable), startedAt: clock.now() });
        const request = transform(prepareRequest(packed, bodies));
        const startedAt = clock.now();
        return (results[index] = await send(sender, sign(request, startedAt), startedAt));
      }),
    );
  } finally {
    clearTimeout(timer);
  }
}
