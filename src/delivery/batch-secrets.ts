import { openCustomHeaders, openPreviousSecrets, openSigningSecret } from "../domain/consumer-secrets.ts";
import type { SecretBox } from "../secret-box.ts";
import type { DueDelivery } from "../storage/deliveries.ts";
import { attemptRequestOf, type AttemptRequest, type SendableAttempt } from "./attempt.ts";

type OpenedSecrets = Pick<SendableAttempt, "signingSecret" | "previousSecrets" | "customHeaders">;

/**
 * A batch's attempt requests, its consumers' secrets opened once per
 * consumer: a batch often holds many deliveries to one consumer, and every
 * delivery of a consumer carries the same stored values. A consumer whose
 * secrets do not open with the configured keys has its attempts fail unsent,
 * with the reason.
 */
export function attemptRequests(box: SecretBox, deliveries: readonly DueDelivery[]): AttemptRequest[] {
  const opened = new Map<string, OpenedSecrets | { unsendable: string }>();
  return deliveries.map((delivery) => {
    let secrets = opened.get(delivery.consumerId);
    if (secrets === undefined) {
      secrets = openSecrets(box, delivery);
      opened.set(delivery.consumerId, secrets);
    }
    return "unsendable" in secrets ? secrets : attemptRequestOf(delivery, secrets);
  });
}

function openSecrets(box: SecretBox, { consumerId, signingSecret, previousSecrets, customHeaders }: DueDelivery): OpenedSecrets | { unsendable: string } {
  try {
    const previous = openPreviousSecrets(box, consumerId, previousSecrets);
    const headers = openCustomHeaders(box, consumerId, customHeaders);
    return {
      signingSecret: openSigningSecret(box, consumerId, signingSecret),
      previousSecrets: previous.length > 0 ? previous : null,
      customHeaders: Object.keys(headers).length > 0 ? headers : null,
    };
  } catch (error) {
    return { unsendable: (error as Error).message };
  }
}
