import { activeSecrets, signatureHeaders } from "../signing.ts";
import type { WebhookRequest } from "./request.ts";

/** Adds the Standard Webhooks headers, signed at `at` (the attempt's start) with every secret active then. */
export function sign(request: WebhookRequest, at: number): WebhookRequest {
  const signature = signatureHeaders(activeSecrets(request.signingSecret, request.previousSecrets, at), request.messageId, Math.floor(at / 1000), request.body);
  return { ...request, headers: { ...request.headers, ...signature } };
}
