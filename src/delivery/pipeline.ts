import type { Clock } from "../clock.ts";
import { prepareRequest } from "./pipeline/prepare.ts";
import type { AttemptResult, SendBatch } from "./pipeline/request.ts";
import { send } from "./pipeline/send.ts";
import { sign } from "./pipeline/sign.ts";
import { transform } from "./pipeline/transform.ts";
import { unsent, type WebhookSender } from "./sender.ts";

/** Sends a batch's attempts; the sender thread does it for the worker. */
export interface BatchSender {
  send(batch: SendBatch): Promise<AttemptResult[]>;
}

/**
 * One packed batch's path in the sender thread (the worker packed it, see
 * packBatch): each attempt is prepared, transformed, signed at the time it
 * starts and sent, all of them concurrently.
 */
export function sendBatch(sender: WebhookSender, clock: Clock, { bodies, requests }: SendBatch): Promise<AttemptResult[]> {
  return Promise.all(
    requests.map(async (packed) => {
      if ("unsendable" in packed) return { ...unsent(packed.unsendable), startedAt: clock.now() };
      const request = transform(prepareRequest(packed, bodies));
      const startedAt = clock.now();
      return send(sender, sign(request, startedAt), startedAt);
    }),
  );
}
