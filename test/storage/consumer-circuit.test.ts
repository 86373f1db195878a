import assert from "node:assert/strict";
import { test } from "node:test";
import { newId, type ConsumerId } from "../../src/ids.ts";
import { countUnreachable } from "../../src/storage/consumer-circuit.ts";
import { insertConsumer } from "../../src/storage/consumers.ts";
import { openTestStore, seedClient } from "../support/storage.ts";

const BREAKER = { failures: 2, cooldownMs: 3_600_000 };

test("an open circuit's end only ever moves later, whatever order two workers' records commit in", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const consumerId = newId<ConsumerId>();
  await store.transaction(({ tx }) =>
    insertConsumer(tx, {
      id: consumerId,
      client_id: clientId,
      url: "https://receiver.example/hooks",
      event_types: '["company.created"]',
      company_tags: null,
      disabled: 0,
      signing_secret: "sealed",
      created_at: 0,
      description: null,
      rate_limit: null,
      rate_next_at: null,
      previous_secrets: null,
      custom_headers: null,
      mtls_certificate: null,
      mtls_private_key: null,
      failing_since: null,
      circuit_open_until: null,
      ordering: "unordered",
    }),
  );
  const count = (now: number) => store.transaction(({ tx }) => countUnreachable(tx, consumerId, 1, now, BREAKER));

  assert.deepEqual(await count(1_000), { consecutiveFailures: 1, openUntil: null, wasOpen: false }, "below the threshold it stays closed");
  assert.deepEqual(await count(5_000), { consecutiveFailures: 2, openUntil: 5_000 + BREAKER.cooldownMs, wasOpen: false });
  // A record whose time was taken earlier commits after: the circuit keeps the later end.
  assert.deepEqual(await count(4_000), { consecutiveFailures: 3, openUntil: 5_000 + BREAKER.cooldownMs, wasOpen: true });
  assert.deepEqual(await count(9_000), { consecutiveFailures: 4, openUntil: 9_000 + BREAKER.cooldownMs, wasOpen: true }, "a later failure extends it");
});
