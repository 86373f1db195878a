import assert from "node:assert/strict";
import { test } from "node:test";
import { newId, type CompanyId, type ConnectionErrorId } from "../../src/ids.ts";
import { deleteCompany, findCompanies, findCompany, findCompanyOwner, loadTags, replaceTags, updateCompany } from "../../src/storage/companies.ts";
import { insertConnectionError, listConnectionErrors } from "../../src/storage/connection-errors.ts";
import { connectionsOfCompanies } from "../../src/storage/connections.ts";
import { openTestStore, seedCompany, seedConnection, seedTwoTenants } from "../support/storage.ts";

test("a company is found with its fields and tags as written", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA } = await seedTwoTenants(store);
  const company = await seedCompany(store, clientA, {
    name: "Société Générale — 東京",
    description: 'Line one\nline "two" \\ \' %_',
    created_at: 1_700_000_000_123,
    tags: { region: "eu", "cost-centre": "42", "": "empty key", empty: "" },
  });
  assert.deepEqual(await findCompany(store.db, clientA, company.id), company);
  const undescribed = await seedCompany(store, clientA, { description: null, tags: {} });
  assert.deepEqual(await findCompany(store.db, clientA, undescribed.id), undescribed);
});

test("a company is not found through another client", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, companyB } = await seedTwoTenants(store);
  assert.equal(await findCompany(store.db, clientA, companyB.id), undefined);
  assert.equal(await findCompany(store.db, clientA, newId<CompanyId>()), undefined);
  assert.deepEqual(await findCompany(store.db, clientB, companyB.id), companyB);
});

test("findCompanies returns the client's companies among the ids, leaving out unknown and foreign ones", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA, companyB } = await seedTwoTenants(store);
  const untagged = await seedCompany(store, clientA, { name: "Untagged" });
  const found = await findCompanies(store.db, clientA, [companyA.id, untagged.id, companyB.id, newId<CompanyId>()]);
  assert.deepEqual(
    found,
    new Map([
      [companyA.id, companyA],
      [untagged.id, untagged],
    ]),
  );
  assert.deepEqual(await findCompanies(store.db, clientA, []), new Map());
});

test("a company's owner is found by the company's id alone", async (t) => {
  const { store } = await openTestStore(t);
  const { clientB, companyB } = await seedTwoTenants(store);
  assert.deepEqual(await findCompanyOwner(store.db, companyB.id), { clientId: clientB, name: "Company of B" });
  assert.equal(await findCompanyOwner(store.db, newId<CompanyId>()), undefined);
});

test("loadTags gives every company asked for its tags, and {} to those without", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA, companyB } = await seedTwoTenants(store);
  const untagged = await seedCompany(store, clientA);
  const unknown = newId<CompanyId>();
  const tags = await loadTags(store.db, [companyA.id, companyB.id, untagged.id, unknown]);
  assert.deepEqual(
    tags,
    new Map([
      [companyA.id, { region: "uk" }],
      [companyB.id, { region: "uk" }],
      [untagged.id, {}],
      [unknown, {}],
    ]),
  );
  assert.deepEqual(await loadTags(store.db, []), new Map());
});

test("updating a company changes its name and description, not its tags", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  await store.transaction(({ tx }) => updateCompany(tx, clientA, companyA.id, { name: "Renamed", description: "Now described" }));
  assert.deepEqual(await findCompany(store.db, clientA, companyA.id), { ...companyA, name: "Renamed", description: "Now described" });
  await store.transaction(({ tx }) => updateCompany(tx, clientA, companyA.id, { name: "Renamed", description: null }));
  assert.equal((await findCompany(store.db, clientA, companyA.id))!.description, null);
});

test("updating another client's company changes nothing", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, companyB } = await seedTwoTenants(store);
  await store.transaction(({ tx }) => updateCompany(tx, clientA, companyB.id, { name: "Hijacked", description: "by A" }));
  assert.deepEqual(await findCompany(store.db, clientB, companyB.id), companyB);
});

test("replacing tags sets exactly the given ones", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  await store.transaction(({ tx }) => replaceTags(tx, clientA, companyA.id, { region: "us", tier: "gold" }));
  assert.deepEqual((await findCompany(store.db, clientA, companyA.id))!.tags, { region: "us", tier: "gold" });
  await store.transaction(({ tx }) => replaceTags(tx, clientA, companyA.id, { tier: "silver" }));
  assert.deepEqual((await findCompany(store.db, clientA, companyA.id))!.tags, { tier: "silver" });
  await store.transaction(({ tx }) => replaceTags(tx, clientA, companyA.id, {}));
  assert.deepEqual((await findCompany(store.db, clientA, companyA.id))!.tags, {});
});

test("replacing tags through another client changes nothing of its company", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, companyB } = await seedTwoTenants(store);
  assert.equal(await store.transaction(({ tx }) => replaceTags(tx, clientA, companyB.id, { planted: "by A" })), false);
  assert.deepEqual(await findCompany(store.db, clientB, companyB.id), companyB);
});

test("deleting a company removes it with its tags, connections and their errors, once", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, companyA } = await seedTwoTenants(store);
  const connection = await seedConnection(store, clientA, companyA.id);
  await store.transaction(({ tx }) =>
    insertConnectionError(tx, {
      id: newId<ConnectionErrorId>(),
      client_id: clientA,
      connection_id: connection.id,
      status_code: "401",
      status_text: "Unauthorized",
      error_message: "token expired",
      errored_at: 1,
      status: "Active",
      resolved_at: null,
    }),
  );

  assert.equal(await store.transaction(({ tx }) => deleteCompany(tx, clientA, companyA.id)), true);
  assert.equal(await findCompany(store.db, clientA, companyA.id), undefined);
  assert.deepEqual(await loadTags(store.db, [companyA.id]), new Map([[companyA.id, {}]]));
  assert.deepEqual(await connectionsOfCompanies(store.db, clientA, [companyA.id]), []);
  assert.deepEqual(await listConnectionErrors(store.db, [connection.id]), []);
  assert.equal(await store.transaction(({ tx }) => deleteCompany(tx, clientA, companyA.id)), false);
});

test("deleting another client's company deletes nothing", async (t) => {
  const { store } = await openTestStore(t);
  const { clientA, clientB, companyB } = await seedTwoTenants(store);
  assert.equal(await store.transaction(({ tx }) => deleteCompany(tx, clientA, companyB.id)), false);
  assert.deepEqual(await findCompany(store.db, clientB, companyB.id), companyB);
});
