import type { Clock } from "../clock.ts";
import type { DueDelivery } from "../storage/deliveries.ts";
import type { SendResult, WebhookSender } from "./sender.ts";
import { activeSecrets, signatureHeaders } from "./signing.ts";

/** What one attempt needs of its delivery. */
export type AttemptRequest = Pick<DueDelivery, "messageId" | "body" | "url" | "signingSecret" | "previousSecrets" | "customHeaders" | "clientCertificate">;

/** Only what an attempt needs, since a batch is copied to the sender thread (an object literal: the type checks it holds no more and no less). */
export function attemptRequestOf({ messageId, body, url, signingSecret, previousSecrets, customHeaders, clientCertificate }: DueDelivery): AttemptRequest {
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
  const headers = signatureHeaders(activeSecrets(request.signingSecret, request.previousSecrets, startedAt), request.messageId, Math.floor(startedAt / 1000), request.body);
  const result = await sender.send({ url: request.url, headers, body: request.body, customHeaders: request.customHeaders, clientCertificate: request.clientCertificate });
  return { ...result, startedAt };
}
