import type { Clock } from "../clock.ts";
import type { DueDelivery } from "../storage/deliveries.ts";
import type { PreviousSecret } from "../storage/schema.ts";
import { unsent, type SendResult, type WebhookSender } from "./sender.ts";
import { activeSecrets, signatureHeaders } from "./signing.ts";

/** What one attempt needs of its delivery, its consumer's secrets opened. */
export interface SendableAttempt extends Pick<DueDelivery, "messageId" | "body" | "url" | "clientCertificate"> {
  signingSecret: string;
  /** Rotated-out secrets that still sign beside the current one until they expire; null when there are none. */
  previousSecrets: PreviousSecret[] | null;
  /** The consumer's own headers (name: value); null when it has none. */
  customHeaders: Record<string, string> | null;
}

/** An attempt, or why it cannot be made (its consumer's secrets did not open): then it fails without being sent. */
export type AttemptRequest = SendableAttempt | { unsendable: string };

/** Only what an attempt needs, since a batch is copied to the sender thread (an object literal: the type checks it holds no more and no less). */
export function attemptRequestOf(
  { messageId, body, url, clientCertificate }: DueDelivery,
  { signingSecret, previousSecrets, customHeaders }: Pick<SendableAttempt, "signingSecret" | "previousSecrets" | "customHeaders">,
): SendableAttempt {
  return { messageId, body, url, signingSecret, previousSecrets, customHeaders, clientCertificate };
}

export interface AttemptResult extends SendResult {
  /** When the attempt was signed and handed to the connection pool. */
  startedAt: number;
}

/** Sends a batch's attempts; the sender thread does it for the worker. */
export interface BatchSender {
  send(requests: readonly AttemptRequest[]): Promise<AttemptResult[]>;
}

/** Signs one attempt with every active secret, at the time it starts, and sends it. */
export async function makeAttempt(sender: WebhookSender, clock: Clock, request: AttemptRequest): Promise<AttemptResult> {
  const startedAt = clock.now();
  if ("unsendable" in request) return { ...unsent(request.unsendable), startedAt };
  const headers = signatureHeaders(activeSecrets(request.signingSecret, request.previousSecrets, startedAt), request.messageId, Math.floor(startedAt / 1000), request.body);
  const result = await sender.send({ url: request.url, headers, body: request.body, customHeaders: request.customHeaders, clientCertificate: request.clientCertificate });
  return { ...result, startedAt };
}
