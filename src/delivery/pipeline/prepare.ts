import { RESERVED_HEADER_NAMES } from "../../constants/limits.ts";
import { isLegacyAlertBody } from "../../domain/events/legacy-rules.ts";
import type { ConsumerId, MessageId } from "../../ids.ts";
import type { AlertAuthorizations } from "../batch-alert-auth.ts";
import type { DueDelivery } from "../../storage/deliveries/claim-batch.ts";
import type { OpenedSecrets, PackedAttempt, PackedTransformation, SendBatch, Unsendable, WebhookRequest } from "./request.ts";

/**
 * The first stage, in two halves on either side of the thread boundary: the
 * worker packs a leased batch (packBatch), and the sender thread builds each
 * attempt's request from it (prepareRequest).
 */

const USER_AGENT = "Hookline-Webhooks/0.1";

/** Only what an attempt needs, since a batch crosses to the sender thread (an object literal: the type checks it holds no more and no less). */
function packedAttemptOf(
  { messageId, url, clientCertificate, shadow }: DueDelivery,
  { signingSecret, previousSecrets, customHeaders }: OpenedSecrets,
  [bodyStart, bodyEnd]: readonly [number, number],
  transformation: PackedTransformation | null,
  authorization: string | null,
): PackedAttempt {
  return { messageId, url, signingSecret, previousSecrets, customHeaders, clientCertificate, bodyStart, bodyEnd, transformation, authorization, shadow };
}

/**
 * Packs the bodies of these deliveries' messages, each once, and the attempts
 * pointing into them, with the secrets `secretsOf` opens for each and their
 * consumer's transformation, if it has one. Legacy alerts carry their
 * client's alertAuthHeader as Authorization (`authorizations`).
 */
export function packBatch(
  deliveries: readonly DueDelivery[],
  bodies: ReadonlyMap<MessageId, string>,
  secretsOf: (delivery: DueDelivery) => OpenedSecrets | Unsendable,
  transformations: ReadonlyMap<ConsumerId, PackedTransformation> = new Map(),
  authorizations: AlertAuthorizations = new Map(),
): SendBatch {
  const spans = new Map<MessageId, readonly [number, number]>();
  let size = 0;
  for (const { messageId } of deliveries) {
    if (spans.has(messageId)) continue;
    const length = Buffer.byteLength(bodies.get(messageId) ?? "");
    spans.set(messageId, [size, size + length]);
    size += length;
  }
  const packed = Buffer.from(new ArrayBuffer(size));
  for (const [messageId, [start]] of spans) packed.write(bodies.get(messageId) ?? "", start, "utf8");
  const requests = deliveries.map((delivery): PackedAttempt | Unsendable => {
    const secrets = secretsOf(delivery);
    if ("unsendable" in secrets) return secrets;
    const authorization = isLegacyAlertBody(bodies.get(delivery.messageId) ?? "") ? (authorizations.get(delivery.clientId) ?? null) : null;
    if (authorization instanceof Error) return { unsendable: `The client profile's alertAuthHeader did not open: ${authorization.message}` };
    return packedAttemptOf(delivery, secrets, spans.get(delivery.messageId)!, transformations.get(delivery.consumerId) ?? null, authorization);
  });
  return { bodies: packed.buffer as ArrayBuffer, requests };
}

/** One attempt's request, unsigned: its body a view of the packed bytes, never a copy, and its headers less the signature's. */
export function prepareRequest(
  { messageId, url, customHeaders, signingSecret, previousSecrets, clientCertificate, bodyStart, bodyEnd, authorization }: PackedAttempt,
  bodies: ArrayBuffer,
): WebhookRequest {
  return {
    messageId,
    method: "POST",
    url,
    // A legacy alert's Authorization is the client's alertAuthHeader, as Codat sent it; it wins over a consumer's own Authorization header.
    headers: {
      "content-type": "application/json",
      "user-agent": USER_AGENT,
      ...(customHeaders && allowedHeaders(customHeaders)),
      ...(authorization !== null && { authorization }),
    },
    body: Buffer.from(bodies, bodyStart, bodyEnd - bodyStart),
    signingSecret,
    previousSecrets,
    clientCertificate,
  };
}

/** A consumer's headers with lower-case names, less the reserved ones: they may add headers and replace the user agent, nothing more. */
function allowedHeaders(customHeaders: Record<string, string>): Record<string, string> {
  const allowed: Record<string, string> = {};
  for (const [name, value] of Object.entries(customHeaders)) {
    const lower = name.toLowerCase();
    if (!RESERVED_HEADER_NAMES.has(lower)) allowed[lower] = value;
  }
  return allowed;
}
