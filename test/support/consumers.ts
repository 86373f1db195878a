import assert from "node:assert/strict";
import type { ReceivedWebhook } from "./receiver.ts";
import type { TestClient, TestServer } from "./server.ts";
import { asId, type ConsumerId } from "../../src/ids.ts";

/** Creates a consumer (of `company.created` unless `settings` name other event types) and returns its id. */
export async function subscribe(client: TestClient, url: string, settings: { eventTypes?: string[] } & Record<string, unknown> = {}): Promise<string> {
  const response = await client.api("POST", "/webhooks", { url, eventTypes: ["company.created"], ...settings });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.id as string;
}

/** The delivery rows and recorded attempts of one consumer, read in one snapshot so they agree with each other. */
export function recorded(server: TestServer, consumerId: string) {
  return server.hookline.ctx.store.db
    .transaction()
    .setIsolationLevel("repeatable read")
    .execute(async (db) => {
      const deliveries = await db.selectFrom("deliveries").selectAll().where("consumer_id", "=", asId<ConsumerId>(consumerId)).execute();
      const attempts = await db
        .selectFrom("attempts")
        .selectAll()
        .where("consumer_id", "=", asId<ConsumerId>(consumerId))
        .orderBy("started_at")
        .orderBy("attempt_number")
        .execute();
      return { deliveries, attempts };
    });
}

/** The Standard Webhooks headers of a received webhook, as a verifying library takes them. */
export const signatureHeadersOf = (webhook: ReceivedWebhook) => ({
  "webhook-id": String(webhook.headers["webhook-id"]),
  "webhook-timestamp": String(webhook.headers["webhook-timestamp"]),
  "webhook-signature": String(webhook.headers["webhook-signature"]),
});
