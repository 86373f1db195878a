import assert from "node:assert/strict";
import { test } from "node:test";
import { newId, type ClientId, type ConsumerId } from "../../src/ids.ts";
import { insertConsumer, readTransformations, updateConsumerColumns } from "../../src/storage/consumers.ts";
import type { Store } from "../../src/storage/database.ts";
import { nextTimestamp, openTestStore, seedClient } from "../support/storage.ts";

async function seedConsumer(store: Store, clientId: ClientId, transformation: { code: string; enabled: boolean; version: number } | null): Promise<ConsumerId> {
  const id = newId<ConsumerId>();
  await store.transaction(async ({ tx }) => {
    await insertConsumer(tx, {
      id,
      client_id: clientId,
      url: "https://receiver.example/hooks",
      event_types: '["company.created"]',
      company_tags: null,
      disabled: 0,
      signing_secret: "sealed",
      created_at: nextTimestamp(),
      description: null,
      rate_limit: null,
      rate_next_at: null,
      previous_secrets: null,
      custom_headers: null,
      mtls_certificate: null,
      mtls_private_key: null,
      failing_since: null,
      circuit_open_until: null,
    });
    if (transformation)
      await updateConsumerColumns(tx, clientId, id, {
        transformation_code: transformation.code,
        transformation_enabled: transformation.enabled ? 1 : 0,
        transformation_version: transformation.version,
      });
  });
  return id;
}

test("the transformations read for a batch are the enabled ones of the consumers asked for, with their versions", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const enabled = await seedConsumer(store, clientId, { code: "function handler(w) { return w; }", enabled: true, version: 3 });
  const disabled = await seedConsumer(store, clientId, { code: "function handler(w) { return w; }", enabled: false, version: 1 });
  const none = await seedConsumer(store, clientId, null);
  const notAsked = await seedConsumer(store, clientId, { code: "function handler(w) { return { ...w, cancel: true }; }", enabled: true, version: 1 });

  assert.deepEqual(await readTransformations(store.db, [enabled, disabled, none]), [
    { consumerId: enabled, version: 3, code: "function handler(w) { return w; }" },
  ]);
  assert.deepEqual(await readTransformations(store.db, [none]), []);
  assert.equal((await readTransformations(store.db, [enabled, notAsked])).length, 2);
});

test("a consumer made before transformations existed has none, at version 0", async (t) => {
  const { store } = await openTestStore(t);
  const consumerId = await seedConsumer(store, await seedClient(store), null);
  const row = await store.db
    .selectFrom("consumers")
    .select(["transformation_code", "transformation_enabled", "transformation_version"])
    .where("id", "=", consumerId)
    .executeTakeFirstOrThrow();
  assert.deepEqual(row, { transformation_code: null, transformation_enabled: 0, transformation_version: 0 });
});
