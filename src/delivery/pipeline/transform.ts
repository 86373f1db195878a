import type { TransformationRunner } from "../../domain/transformations/runner.ts";
import type { PackedTransformation, WebhookRequest } from "./request.ts";

/** What the transform stage makes of a request: the request to sign and send, none (the handler cancelled it), or the reason it failed. */
export type Transformed = WebhookRequest | { cancelled: true } | { failed: string };

/**
 * Between prepare and sign, so that the bytes signed are the bytes sent: a
 * consumer's transformation may replace the body, the URL (which the sender's
 * destination policy checks like any other) and the method, or cancel the
 * request. Requests of consumers without one do not come here (sendBatch), not even for a promise.
 */
export async function transform(request: WebhookRequest, transformation: PackedTransformation, runner: TransformationRunner): Promise<Transformed> {
  const outcome = await runner.run(transformation, request.url, request.body.toString("utf8"));
  if ("error" in outcome) return { failed: `Transformation failed: ${outcome.error}` };
  const { webhook } = outcome;
  if (webhook.cancel) return { cancelled: true };
  return { ...request, method: webhook.method, url: webhook.url, body: Buffer.from(JSON.stringify(webhook.payload)) };
}
