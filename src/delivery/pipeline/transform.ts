import type { WebhookRequest } from "./request.ts";

/**
 * Where a payload transformation plugs in: between prepare and sign, so that
 * the bytes signed are the bytes sent. It may replace the body (a new Buffer)
 * and its headers. None exists yet: the request passes through unchanged.
 */
export function transform(request: WebhookRequest): WebhookRequest {
  return request;
}
