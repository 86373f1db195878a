import assert from "node:assert/strict";
import { test } from "node:test";
import { findClientProfile, putClientProfile } from "../../src/storage/client-profiles.ts";
import {
  deleteConnectionTokens,
  findConnectionTokens,
  postponeRefresh,
  replaceRefreshedTokens,
  tokensDueForRefresh,
  upsertConnectionTokens,
  type ConnectionTokensRow,
} from "../../src/storage/connection-tokens.ts";
import { deleteExpiredLinkAttempts, findLinkAttempt, insertLinkAttempt, useLinkAttempt } from "../../src/storage/link-attempts.ts";
import { openTestStore, seedConnection, seedTwoTenants } from "../support/storage.ts";

test("a link attempt is used at most once, and deleted once expired", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  const connection = await seedConnection(store, clientA, companyA.id);
  const attempt = {
    client_id: clientA,
    company_id: companyA.id,
    connection_id: connection.id,
    code_verifier: "sealed",
    link_query: "journeyType=demo",
    created_at: 1_000,
    used_at: null,
  };
  await insertLinkAttempt(store.db, { ...attempt, state_digest: "early", expires_at: 2_000 });
  await insertLinkAttempt(store.db, { ...attempt, state_digest: "late", expires_at: 5_000 });
  assert.equal(await store.transaction(({ tx }) => useLinkAttempt(tx, "late", 3_000)), true);
  assert.equal(await store.transaction(({ tx }) => useLinkAttempt(tx, "late", 3_001)), false, "a second use is refused");
  assert.equal((await findLinkAttempt(store.db, "late"))?.used_at, 3_000);
  assert.equal(await deleteExpiredLinkAttempts(store.db, 3_000), 1);
  assert.equal(await findLinkAttempt(store.db, "early"), undefined);
  assert.equal((await findLinkAttempt(store.db, "late"))?.link_query, "journeyType=demo");
});

test("tokens: due refreshes of Linked connections only, a refresh that lost the race to a relink changes nothing, deletion", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  const linked = await seedConnection(store, clientA, companyA.id, { status: "Linked" });
  const unlinked = await seedConnection(store, clientA, companyA.id, { status: "Unlinked" });
  const row = (connectionId: typeof linked.id, next: number | null): ConnectionTokensRow => ({
    connection_id: connectionId,
    client_id: clientA,
    access_token: "sealed-access",
    refresh_token: "sealed-refresh",
    expires_at: 10_000,
    refresh_failing_since: null,
    next_refresh_at: next,
    updated_at: 1_000,
  });
  await store.transaction(({ tx }) => upsertConnectionTokens(tx, row(linked.id, 5_000)));
  await store.transaction(({ tx }) => upsertConnectionTokens(tx, row(unlinked.id, 5_000)));
  assert.deepEqual(await tokensDueForRefresh(store.db, 4_999, 10), []);
  const due = await tokensDueForRefresh(store.db, 5_000, 10);
  assert.deepEqual(
    due.map((found) => [found.connection_id, found.company_id, found.integration_key]),
    [[linked.id, companyA.id, linked.integration_key]],
  );

  await postponeRefresh(store.db, linked.id, 5_000, 35_000);
  assert.deepEqual(await tokensDueForRefresh(store.db, 6_000, 10), []);
  const stale = (await findConnectionTokens(store.db, linked.id))!;
  // The customer relinks meanwhile: new tokens replace the row.
  await store.transaction(({ tx }) => upsertConnectionTokens(tx, { ...row(linked.id, 50_000), access_token: "relinked", updated_at: 7_000 }));
  assert.equal(await store.transaction(({ tx }) => replaceRefreshedTokens(tx, stale, { ...stale, access_token: "refreshed", updated_at: 8_000 })), false);
  assert.equal((await findConnectionTokens(store.db, linked.id))?.access_token, "relinked");
  const current = (await findConnectionTokens(store.db, linked.id))!;
  assert.equal(await store.transaction(({ tx }) => replaceRefreshedTokens(tx, current, { ...current, access_token: "refreshed", updated_at: 8_000 })), true);
  assert.equal((await findConnectionTokens(store.db, linked.id))?.access_token, "refreshed");

  await store.transaction(({ tx }) => deleteConnectionTokens(tx, linked.id));
  assert.equal(await findConnectionTokens(store.db, linked.id), undefined);
});

test("a client's profile is stored and replaced, each client's its own", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB } = await seedTwoTenants(store);
  const profile = {
    client_id: clientA,
    name: "A",
    logo_url: null,
    icon_url: "https://a.example/icon.ico",
    redirect_url: "https://a.example/{companyId}",
    white_list_urls: ["https://a.example"],
    alert_auth_header: null,
    updated_at: 1_000,
  };
  await putClientProfile(store.db, profile);
  await putClientProfile(store.db, { ...profile, name: "A again", white_list_urls: [], updated_at: 2_000 });
  assert.deepEqual(await findClientProfile(store.db, clientA), { ...profile, name: "A again", white_list_urls: [], updated_at: 2_000 });
  assert.equal(await findClientProfile(store.db, clientB), undefined);
});
