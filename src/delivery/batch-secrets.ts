import type { SecretBox } from "../secret-box.ts";
import { openCustomHeaders, openPreviousSecrets, openSigningSecret } from "../storage/consumers-codec.ts";
import type { DueDelivery } from "../storage/deliveries/claim-batch.ts";
import type { OpenedSecrets, Unsendable } from "./pipeline/request.ts";

/**
 * Opens the secrets of one batch's consumers, each consumer's once: a batch
 * often holds many deliveries to one consumer, and they all carry the same
 * stored values. A consumer whose secrets do not open with the configured
 * keys has its attempts fail unsent, with the reason.
 */
export function batchSecrets(box: SecretBox): (delivery: DueDelivery) => OpenedSecrets | Unsendable {
  const opened = new Map<string, OpenedSecrets | Unsendable>();
  return (delivery) => {
    let secrets = opened.get(delivery.consumerId);
    if (secrets === undefined) {
      secrets = openSecrets(box, delivery);
      opened.set(delivery.consumerId, secrets);
    }
    return secrets;
  };
}

function openSecrets(box: SecretBox, { consumerId: consumer, signingSecret, previousSecrets, customHeaders }: DueDelivery): OpenedSecrets | Unsendable {
  try {
    const previous = openPreviousSecrets(box, consumer, previousSecrets);
    const headers = openCustomHeaders(box, consumer, customHeaders);
    return {
      signingSecret: openSigningSecret(box, consumer, signingSecret),
      previousSecrets: previous.length > 0 ? previous : null,
      customHeaders: Object.keys(headers).length > 0 ? headers : null,
    };
  } catch (error) {
    return { unsendable: (error as Error).message };
  }
}
