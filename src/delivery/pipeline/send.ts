import type { WebhookSender } from "../sender.ts";
import type { AttemptResult, WebhookRequest } from "./request.ts";

/** The last stage: POSTs the signed request to the consumer; the attempt started at `startedAt`, when it was signed. */
export async function send(sender: WebhookSender, request: WebhookRequest, startedAt: number): Promise<AttemptResult> {
  return { ...(await sender.send(request)), startedAt };
}
