import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { badRequest } from "../errors.ts";
import type { ClientId, ConsumerId } from "../ids.ts";
import { sealClientKey } from "../storage/consumers-codec.ts";
import type { AppContext } from "./context.ts";
import { changeConsumer, type WebhookConsumerResource } from "./consumers.ts";

export interface ClientCertificateInput {
  /** PEM private key, unencrypted. */
  privateKey: string;
  /** PEM X.509 certificate; intermediate certificates may follow it. */
  certificate: string;
}

const invalid = (itemId: string, message: string) => badRequest(message, [{ itemId, message, validatorName: "mtls" }]);

/** Parses the pair and checks they belong together; errors never quote the key. */
function validated({ privateKey, certificate }: ClientCertificateInput, now: number): void {
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(certificate);
  } catch {
    throw invalid("certificate", "certificate is not a PEM X.509 certificate");
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKey);
  } catch {
    throw invalid("privateKey", "privateKey is not an unencrypted PEM private key");
  }
  if (!parsed.checkPrivateKey(key)) throw invalid("privateKey", "privateKey does not match the certificate's public key");
  if (Date.parse(parsed.validTo) <= now) throw invalid("certificate", `certificate expired on ${new Date(parsed.validTo).toISOString()}`);
}

/** Gives a consumer a client certificate that every delivery presents; its private key is stored sealed. */
export async function setClientCertificate(
  ctx: AppContext,
  clientId: ClientId,
  consumerId: ConsumerId,
  input: ClientCertificateInput,
): Promise<WebhookConsumerResource> {
  return changeConsumer(ctx, clientId, consumerId, () => {
    validated(input, ctx.clock.now());
    return { mtls_certificate: input.certificate, mtls_private_key: sealClientKey(ctx.secretBox, consumerId, input.privateKey) };
  });
}

export async function removeClientCertificate(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<void> {
  await changeConsumer(ctx, clientId, consumerId, () => ({ mtls_certificate: null, mtls_private_key: null }));
}
