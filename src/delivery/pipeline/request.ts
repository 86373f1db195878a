import type { MessageId } from "../../ids.ts";
import type { SavedTransformation } from "../../domain/transformations/protocol.ts";
import type { DueDelivery, StoredClientCertificate } from "../../storage/deliveries/claim-batch.ts";
import type { PreviousSecret } from "../../storage/schema.ts";
import type { SendResult } from "../sender.ts";

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

/**
 * A consumer's transformation as a batch carries it: one object per consumer,
 * which every attempt to it refers to, so its code crosses to the sender
 * thread once per batch (structured cloning keeps shared references shared).
 */
export type PackedTransformation = SavedTransformation;

/** What one attempt needs of its delivery, its consumer's secrets opened; its body is a span of the batch's packed bodies. */
export type PackedAttempt = Pick<DueDelivery, "messageId" | "url" | "clientCertificate" | "shadow"> &
  OpenedSecrets & {
    bodyStart: number;
    bodyEnd: number;
    /** Null for a consumer without an enabled transformation. */
    transformation: PackedTransformation | null;
    /** A legacy alert's Authorization header (the client profile's alertAuthHeader); null for events, or without one. */
    authorization: string | null;
  };

/**
 * A batch on its way to the sender thread: its event bodies as UTF-8 bytes in
 * one buffer, each message's once, which moves to the thread without a copy.
 */
export interface SendBatch {
  bodies: ArrayBuffer;
  requests: Array<PackedAttempt | Unsendable>;
}

/** One attempt's request as it goes from stage to stage in the sender thread: prepare, transform, sign, send. */
export interface WebhookRequest {
  messageId: MessageId;
  /** POST, unless a transformation made it PUT. */
  method: "POST" | "PUT";
  url: string;
  /** The headers sent: the content type, the user agent and the consumer's own, and the signature's once signed. */
  headers: Record<string, string>;
  /** The bytes sent and signed: a view of the batch's packed bodies, never a copy, unless a transformation replaced it. */
  body: Buffer;
  signingSecret: string;
  previousSecrets: PreviousSecret[] | null;
  /** Presented as the TLS client certificate (mTLS). */
  clientCertificate: StoredClientCertificate | null;
}

export interface AttemptResult extends SendResult {
  /** When the attempt was signed and handed to the connection pool. */
  startedAt: number;
}
