import type { ClientId, MessageId } from "../ids.ts";
import { isLegacyAlertBody } from "../domain/events/legacy-rules.ts";
import type { SecretBox } from "../secret-box.ts";
import { findClientProfile } from "../storage/client-profiles.ts";
import type { Db } from "../storage/database.ts";
import type { DueDelivery } from "../storage/deliveries/claim-batch.ts";

/** What a legacy alert's Authorization header is for each client of a batch: the profile's alertAuthHeader, opened, or none. */
export type AlertAuthorizations = ReadonlyMap<ClientId, string | Error>;

const none: AlertAuthorizations = new Map();

/**
 * The `alertAuthHeader` of the clients whose legacy alerts are in a batch,
 * read when the batch is sent (so a changed profile applies to retries) and
 * each client's once. A batch without alerts costs no query. A header that
 * does not open with the configured keys is kept as its error, which fails
 * those attempts unsent.
 */
export async function batchAlertAuthorizations(
  db: Db,
  box: SecretBox,
  deliveries: readonly DueDelivery[],
  bodies: ReadonlyMap<MessageId, string>,
): Promise<AlertAuthorizations> {
  const clients = new Set(deliveries.filter((delivery) => isLegacyAlertBody(bodies.get(delivery.messageId) ?? "")).map((delivery) => delivery.clientId));
  if (clients.size === 0) return none;
  const opened = new Map<ClientId, string | Error>();
  for (const clientId of clients) {
    const sealed = (await findClientProfile(db, clientId))?.alert_auth_header ?? null;
    if (sealed === null) continue;
    try {
      opened.set(clientId, box.open(sealed, "alert-auth-header", clientId));
    } catch (error) {
      opened.set(clientId, error as Error);
    }
  }
  return opened;
}
