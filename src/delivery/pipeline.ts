import type { Clock } from "../clock.ts";
import { prepareRequest } from "./pipeline/prepare.ts";
import type { AttemptResult, SendBatch } from "./pipeline/request.ts";
import { send } from "./pipeline/send.ts";
import { shadow } from "./pipeline/shadow.ts";
import { sign } from "./pipeline/sign.ts";
import { transform } from "./pipeline/transform.ts";
import { unsent, type WebhookSender } from "./sender.ts";
import type { TransformationRunner } from "../domain/transformations/runner.ts";

/** The results of a batch's attempts so far, in the batch's order: undefined where an attempt is still unanswered. */
export type EarlyResults = ReadonlyArray<AttemptResult | undefined>;

/**
 * Sends a batch's attempts; the sender thread does it for the worker. When
 * some are still unanswered after the slow-consumer time, or a while after
 * the others have all come back (sendBatch), `early` is told, once, what has
 * come back by then; the promise holds every result.
 */
export interface BatchSender {
  send(batch: SendBatch, early?: (results: EarlyResults) => void): Promise<AttemptResult[]>;
}

/** What a cancelled attempt records: it succeeded, and nothing was sent. */
export const CANCELLED = "Cancelled by the webhook's transformation: no request was made";

/**
 * How long a batch waits for its last attempts once no answer has come for
 * this long: a receiver slower than the rest by this much is not left to
 * hold up the batch (and every other consumer's next deliveries with it)
 * for the whole slow-consumer time.
 */
export const STRAGGLERS_AFTER_MS = 250;

/**
 * One packed batch's path in the sender thread (the worker packed it, see
 * packBatch): each attempt is prepared, transformed, held back or redirected
 * by shadow mode, signed at the time it starts and sent, all of them concurrently. If some are still unanswered
 * after `earlyAfterMs`, or STRAGGLERS_AFTER_MS after the last answer came, `early` gets the results so far, once.
 */
export async function sendBatch(
  sender: WebhookSender,
  clock: Clock,
  transformations: TransformationRunner,
  { bodies, requests }: SendBatch,
  early: (results: EarlyResults) => void,
  earlyAfterMs: number,
): Promise<AttemptResult[]> {
  const attempt = async (packed: SendBatch["requests"][number]): Promise<AttemptResult> => {
    if ("unsendable" in packed) return { ...unsent(packed.unsendable), startedAt: clock.now() };
    const prepared = prepareRequest(packed, bodies);
    const transformed = packed.transformation === null ? prepared : await transform(prepared, packed.transformation, transformations);
    const startedAt = clock.now();
    if ("failed" in transformed) return { ...unsent(transformed.failed), startedAt };
    if ("cancelled" in transformed) return { ...unsent(CANCELLED), succeeded: true, startedAt };
    const request = shadow(transformed, packed.shadow);
    if ("recorded" in request) return { ...unsent(request.recorded), succeeded: true, startedAt };
    return send(sender, sign(request, startedAt), startedAt);
  };
  const results = new Array<AttemptResult | undefined>(requests.length).fill(undefined);
  let reported = false;
  const report = () => {
    if (reported) return;
    reported = true;
    early(results.slice());
  };
  const timer = setTimeout(report, earlyAfterMs);
  // Restarted by every answer: the stragglers of a batch whose other attempts have all come back.
  let stragglers: NodeJS.Timeout | undefined;
  const stragglersAfter = Math.min(STRAGGLERS_AFTER_MS, earlyAfterMs);
  let answered = 0;
  try {
    return await Promise.all(
      requests.map(async (packed, index) => {
        results[index] = await attempt(packed);
        clearTimeout(stragglers);
        if (++answered < requests.length) stragglers = setTimeout(report, stragglersAfter);
        return results[index];
      }),
    );
  } finally {
    clearTimeout(timer);
    clearTimeout(stragglers);
  }
}
