import type { Clock } from "../clock.ts";
import type { DueDelivery } from "../storage/deliveries.ts";
import type { SendResult, WebhookSender } from "./sender.ts";
import { activeSecrets, signatureHeaders } from "./signing.ts";

/** What one attempt needs of its delivery; its body is a span of the batch's packed bodies. */
export type AttemptRequest = Pick<DueDelivery, "messageId" | "url" | "signingSecret" | "previousSecrets" | "customHeaders" | "clientCertificate"> & {
  bodyStart: number;
  bodyEnd: number;
};

/**
 * A batch on its way to the sender: its event bodies as UTF-8 bytes in one
 * buffer, each message's once, which moves to the sender thread without a copy.
 */
export interface SendBatch {
  bodies: ArrayBuffer;
  requests: AttemptRequest[];
}

/** Only what an attempt needs, since a batch crosses to the sender thread (an object literal: the type checks it holds no more and no less). */
function attemptRequestOf({ messageId, url, signingSecret, previousSecrets, customHeaders, clientCertificate }: DueDelivery, [bodyStart, bodyEnd]: readonly [number, number]): AttemptRequest {
  return { messageId, url, signingSecret, previousSecrets, customHeaders, clientCertificate, bodyStart, bodyEnd };
}

/** Packs the bodies of these deliveries' messages, each once, and the attempt requests pointing into them. */
export function sendBatchOf(deliveries: readonly DueDelivery[], bodies: ReadonlyMap<string, string>): SendBatch {
  const spans = new Map<string, readonly [number, number]>();
  let size = 0;
  for (const { messageId } of deliveries) {
    if (spans.has(messageId)) continue;
    const length = Buffer.byteLength(bodies.get(messageId) ?? "");
    spans.set(messageId, [size, size + length]);
    size += length;
  }
  const packed = Buffer.from(new ArrayBuffer(size));
  for (const [messageId, [start]] of spans) packed.write(bodies.get(messageId) ?? "", start, "utf8");
  return { bodies: packed.buffer as ArrayBuffer, requests: deliveries.map((delivery) => attemptRequestOf(delivery, spans.get(delivery.messageId)!)) };
}

export interface AttemptResult extends SendResult {
  /** When the attempt was signed and handed to the connection pool. */
  startedAt: number;
}

/** Sends a batch's attempts; the sender thread does it for the worker. */
export interface BatchSender {
  send(batch: SendBatch): Promise<AttemptResult[]>;
}

/** Signs one attempt with every active secret, at the time it starts, and sends it. */
export async function makeAttempt(sender: WebhookSender, clock: Clock, request: AttemptRequest, body: Buffer): Promise<AttemptResult> {
  const startedAt = clock.now();
  const headers = signatureHeaders(activeSecrets(request.signingSecret, request.previousSecrets, startedAt), request.messageId, Math.floor(startedAt / 1000), body);
  const result = await sender.send({ url: request.url, headers, body, customHeaders: request.customHeaders, clientCertificate: request.clientCertificate });
  return { ...result, startedAt };
}

/** Sends a packed batch's attempts concurrently; each body is a view of the packed bytes, never a copy. */
export function sendAll(sender: WebhookSender, clock: Clock, { bodies, requests }: SendBatch): Promise<AttemptResult[]> {
  return Promise.all(requests.map((request) => makeAttempt(sender, clock, request, Buffer.from(bodies, request.bodyStart, request.bodyEnd - request.bodyStart))));
}
