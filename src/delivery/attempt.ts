import type { Clock } from "../clock.ts";
import type { DueDelivery } from "../storage/deliveries.ts";
import type { PreviousSecret } from "../storage/schema.ts";
import { unsent, type SendResult, type WebhookSender } from "./sender.ts";
import { activeSecrets, signatureHeaders } from "./signing.ts";

/** A consumer's secrets, opened. */
export interface OpenedSecrets {
  signingSecret: string;
  /** Rotated-out secrets that still sign beside the current one until they expire; null when there are none. */
  previousSecrets: PreviousSecret[] | null;
  /** The consumer's own headers (name: value); null when it has none. */
  customHeaders: Record<string, string> | null;
}

/** An attempt that cannot be made, and why (its consumer's secrets did not open): it fails without being sent. */
export interface Unsendable {
  unsendable: string;
}

/** What one attempt needs of its delivery, its consumer's secrets opened; its body is a span of the batch's packed bodies. */
export type SendableAttempt = Pick<DueDelivery, "messageId" | "url" | "clientCertificate"> &
  OpenedSecrets & {
    bodyStart: number;
    bodyEnd: number;
  };

export type AttemptRequest = SendableAttempt | Unsendable;

/**
 * A batch on its way to the sender: its event bodies as UTF-8 bytes in one
 * buffer, each message's once, which moves to the sender thread without a copy.
 */
export interface SendBatch {
  bodies: ArrayBuffer;
  requests: AttemptRequest[];
}

/** Only what an attempt needs, since a batch crosses to the sender thread (an object literal: the type checks it holds no more and no less). */
function attemptRequestOf(
  { messageId, url, clientCertificate }: DueDelivery,
  { signingSecret, previousSecrets, customHeaders }: OpenedSecrets,
  [bodyStart, bodyEnd]: readonly [number, number],
): SendableAttempt {
  return { messageId, url, signingSecret, previousSecrets, customHeaders, clientCertificate, bodyStart, bodyEnd };
}

/**
 * Packs the bodies of these deliveries' messages, each once, and the attempt
 * requests pointing into them, with the secrets `secretsOf` opens for each.
 */
export function sendBatchOf(
  deliveries: readonly DueDelivery[],
  bodies: ReadonlyMap<string, string>,
  secretsOf: (delivery: DueDelivery) => OpenedSecrets | Unsendable,
): SendBatch {
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
  const requests = deliveries.map((delivery): AttemptRequest => {
    const secrets = secretsOf(delivery);
    return "unsendable" in secrets ? secrets : attemptRequestOf(delivery, secrets, spans.get(delivery.messageId)!);
  });
  return { bodies: packed.buffer as ArrayBuffer, requests };
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
export async function makeAttempt(sender: WebhookSender, clock: Clock, request: SendableAttempt, body: Buffer): Promise<AttemptResult> {
  const startedAt = clock.now();
  const headers = signatureHeaders(
    activeSecrets(request.signingSecret, request.previousSecrets, startedAt),
    request.messageId,
    Math.floor(startedAt / 1000),
    body,
  );
  const result = await sender.send({ url: request.url, headers, body, customHeaders: request.customHeaders, clientCertificate: request.clientCertificate });
  return { ...result, startedAt };
}

/** Sends a packed batch's attempts concurrently; each body is a view of the packed bytes, never a copy. */
export function sendAll(sender: WebhookSender, clock: Clock, { bodies, requests }: SendBatch): Promise<AttemptResult[]> {
  return Promise.all(
    requests.map((request) =>
      "unsendable" in request
        ? { ...unsent(request.unsendable), startedAt: clock.now() }
        : makeAttempt(sender, clock, request, Buffer.from(bodies, request.bodyStart, request.bodyEnd - request.bodyStart)),
    ),
  );
}
