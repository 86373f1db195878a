import type { Clock } from "../clock.ts";
import { prepareRequest } from "./pipeline/prepare.ts";
import type { AttemptResult, SendBatch } from "./pipeline/request.ts";
import { send } from "./pipeline/send.ts";
import { sign } from "./pipeline/sign.ts";
import { transform } from "./pipeline/transform.ts";
import { unsent, type WebhookSender } from "./sender.ts";
import type { TransformationRunner } from "../domain/transformations/runner.ts";

/** Sends a batch's attempts; the sender thread does it for the worker. */
export interface BatchSender {
  send(batch: SendBatch): Promise<AttemptResult[]>;
}

/** What a cancelled attempt records: it succeeded, and nothing was sent. */
export const CANCELLED = "Cancelled by the webhook's transformation: no request was made";

/**
 * One packed batch's path in the sender thread (the worker packed it, see
 * packBatch): each attempt is prepared, transformed, signed at the time it
 * starts and sent, all of them concurrently.
 */
export function sendBatch(
  sender: WebhookSender,
  clock: Clock,
  transformations: TransformationRunner,
  { bodies, requests }: SendBatch,
): Promise<AttemptResult[]> {
  return Promise.all(
    requests.map(async (packed) => {
      if ("unsendable" in packed) return { ...unsent(packed.unsendable), startedAt: clock.now() };
      const prepared = prepareRequest(packed, bodies);
      const request = packed.transformation === null ? prepared : await transform(prepared, packed.transformation, transformations);
      const startedAt = clock.now();
      if ("failed" in request) return { ...unsent(request.failed), startedAt };
      if ("cancelled" in request) return { ...unsent(CANCELLED), succeeded: true, startedAt };
      return send(sender, sign(request, startedAt), startedAt);
    }),
  );
}
