import type { ClientId, CompanyId } from "../ids.ts";
import { companyFilter } from "./company-query.ts";
import type { Db, Tx } from "./database.ts";
import { fetchPage, type PageSlice } from "./paging.ts";
import type { Filter, ListOrder } from "./query-filter.ts";
import type { CompaniesTable } from "./schema.ts";

export type Tags = Record<string, string>;
export type CompanyRow = Pick<CompaniesTable, "id" | "name" | "description" | "created_at">;

/** A company with its tags, as the API and the events that concern it describe it. */
export interface CompanySnapshot extends CompanyRow {
  tags: Tags;
}

export type CompanyOrderColumn = "name" | "created_at" | "id";

const COMPANY_COLUMNS = ["id", "name", "description", "created_at"] as const;

/** The tags of each of `companyIds`, by key; a company without tags (or unknown) has `{}`. */
export async function loadTags(db: Db, companyIds: readonly CompanyId[]): Promise<Map<CompanyId, Tags>> {
  const tags = new Map<CompanyId, Tags>(companyIds.map((id) => [id, {}]));
  if (companyIds.length === 0) return tags;
  const rows = await db.selectFrom("company_tags").select(["company_id", "key", "value"]).where("company_id", "in", companyIds).orderBy("key").execute();
  for (const row of rows) tags.get(row.company_id)![row.key] = row.value;
  return tags;
}

/** The client's company with its tags, or undefined for an unknown or foreign id. */
export async function findCompany(db: Db, clientId: ClientId, companyId: CompanyId): Promise<CompanySnapshot | undefined> {
  const row = await db.selectFrom("companies").select(COMPANY_COLUMNS).where("client_id", "=", clientId).where("id", "=", companyId).executeTakeFirst();
  return row && { ...row, tags: (await loadTags(db, [row.id])).get(row.id)! };
}

/** The client's companies among `companyIds`, with their tags; unknown and foreign ids are simply absent. */
export async function findCompanies(db: Db, clientId: ClientId, companyIds: readonly CompanyId[]): Promise<Map<CompanyId, CompanySnapshot>> {
  if (companyIds.length === 0) return new Map();
  const rows = await db.selectFrom("companies").select(COMPANY_COLUMNS).where("client_id", "=", clientId).where("id", "in", companyIds).execute();
  const tags = await loadTags(
    db,
    rows.map((row) => row.id),
  );
  return new Map(rows.map((row) => [row.id, { ...row, tags: tags.get(row.id)! }]));
}

/** A company's name and the client it belongs to, found by its id alone: for the link pages, which no API key opens. */
export async function findCompanyOwner(db: Db, companyId: CompanyId): Promise<{ clientId: ClientId; name: string } | undefined> {
  return db.selectFrom("companies").select(["client_id as clientId", "name"]).where("id", "=", companyId).executeTakeFirst();
}

/** One page of the client's companies that pass `filter`, ordered by `order` then id, and how many pass it. */
export async function listCompanies(
  db: Db,
  clientId: ClientId,
  list: { filter: Filter; order: ListOrder<CompanyOrderColumn>; slice: PageSlice },
): Promise<{ rows: CompanyRow[]; total: number }> {
  let filtered = db.selectFrom("companies").where("client_id", "=", clientId);
  const where = companyFilter(list.filter);
  if (where) filtered = filtered.where(where);
  return fetchPage(filtered, list.slice, (query) =>
    query
      .select(["companies.id", "companies.name", "companies.description", "companies.created_at"])
      .orderBy(list.order.column, list.order.direction)
      .orderBy("companies.id"),
  );
}

export async function insertCompany(tx: Tx, clientId: ClientId, company: CompanySnapshot): Promise<void> {
  await tx
    .insertInto("companies")
    .values({ id: company.id, client_id: clientId, name: company.name, description: company.description, created_at: company.created_at })
    .execute();
  await replaceTags(tx, clientId, company.id, company.tags);
}

export async function updateCompany(tx: Tx, clientId: ClientId, companyId: CompanyId, changes: Pick<CompanyRow, "name" | "description">): Promise<void> {
  await tx.updateTable("companies").set(changes).where("id", "=", companyId).where("client_id", "=", clientId).execute();
}

/** Makes `tags` the company's tags, dropping any others; false, changing nothing, when the client has no such company. */
export async function replaceTags(tx: Tx, clientId: ClientId, companyId: CompanyId, tags: Tags): Promise<boolean> {
  // Tags rows carry the company's client too, but only the companies table says whose a company is.
  const owned = await tx.selectFrom("companies").select("id").where("id", "=", companyId).where("client_id", "=", clientId).executeTakeFirst();
  if (!owned) return false;
  await tx.deleteFrom("company_tags").where("company_id", "=", companyId).where("client_id", "=", clientId).execute();
  const entries = Object.entries(tags);
  if (entries.length > 0) {
    await tx
      .insertInto("company_tags")
      .values(entries.map(([key, value]) => ({ company_id: companyId, client_id: clientId, key, value })))
      .execute();
  }
  return true;
}

/** Deletes a company (its tags, connections and their errors go with it); false when it was not there. */
export async function deleteCompany(tx: Tx, clientId: ClientId, companyId: CompanyId): Promise<boolean> {
  const deleted = await tx.deleteFrom("companies").where("id", "=", companyId).where("client_id", "=", clientId).executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}
