import { createHash } from "node:crypto";
import type { ShadowMode } from "../../storage/deliveries/claim-batch.ts";
import type { WebhookRequest } from "./request.ts";

/** What the shadow stage makes of a request: the request to sign and send, or none (recorded, and why). */
export type Shadowed = WebhookRequest | { recorded: string };

/**
 * After transform, before sign: the last word on where a request goes. A
 * consumer in shadow mode (a legacy consumer's replacement before its switch)
 * never reaches its URL, nor one its transformation chose: its request goes to
 * its test URL, or without one it is recorded as built, with no request made.
 * The message keeps the body; the note names its size and hash as it would
 * have gone (a transformation may have changed it).
 */
export function shadow(request: WebhookRequest, mode: ShadowMode | null): Shadowed {
  if (mode === null) return request;
  if (mode.testUrl !== null) return { ...request, url: mode.testUrl };
  const sha256 = createHash("sha256").update(request.body).digest("hex");
  return {
    recorded: `Shadow mode: built and recorded, no request made (it would have been a ${request.method} of ${request.body.length} bytes, SHA-256 ${sha256})`,
  };
}
