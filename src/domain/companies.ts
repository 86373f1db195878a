import type { Kysely } from "kysely";
import type { components } from "../generated/codat.d.ts";
import { isoDate } from "../clock.ts";
import { notFound } from "../errors.ts";
import type { Database } from "../storage/schema.ts";
import type { DomainContext } from "./context.ts";
import { loadConnections, connectionDeletedEvents, type ConnectionResource } from "./connections.ts";
import { recordEvent } from "./events/outbox.ts";
import { fetchPage, pageEnvelope, type PageRequest } from "./paging.ts";
import { compare, parseOrderBy, whereQuery } from "./query.ts";
import { newId } from "../ids.ts";

export type CompanyResource = components["schemas"]["Company"] & { description?: string; dataConnections?: ConnectionResource[] };
export type CompanyReference = components["schemas"]["Company"]["definitions"]["companyReference"] & { description?: string };
export type Tags = Record<string, string>;

export interface CompanyInput {
  name: string;
  description?: string | undefined;
  tags?: Tags | undefined;
}

interface CompanyRow {
  id: string;
  name: string;
  description: string | null;
  created_at: number;
}

/** A company as the events that concern it describe it. */
export interface CompanySnapshot extends CompanyRow {
  tags: Tags;
}

const portalUrl = (publicUrl: string, companyId: string) => `${publicUrl}/portal/companies/${companyId}/summary`;

function companyDetails(publicUrl: string, company: CompanySnapshot): CompanyResource {
  return {
    id: company.id,
    name: company.name,
    ...(company.description === null ? {} : { description: company.description }),
    redirect: `${publicUrl}/link/companies/${company.id}`,
    created: isoDate(company.created_at),
    products: [],
    tags: company.tags,
    referenceSubsidiaryCompanies: [],
  };
}

export function companyReference(publicUrl: string, company: CompanySnapshot): CompanyReference {
  return {
    id: company.id,
    name: company.name,
    ...(company.description === null ? {} : { description: company.description }),
    links: { portal: portalUrl(publicUrl, company.id) },
    tags: company.tags,
  };
}

export async function loadTags(db: Kysely<Database>, companyIds: string[]): Promise<Map<string, Tags>> {
  const tags = new Map<string, Tags>(companyIds.map((id) => [id, {}]));
  if (companyIds.length === 0) return tags;
  const rows = await db.selectFrom("company_tags").select(["company_id", "key", "value"]).where("company_id", "in", companyIds).orderBy("key").execute();
  for (const row of rows) tags.get(row.company_id)![row.key] = row.value;
  return tags;
}

/** The company with its tags, scoped to the client; 404 for unknown or foreign ids. */
export async function findCompany(db: Kysely<Database>, clientId: string, companyId: string): Promise<CompanySnapshot> {
  const row = await db
    .selectFrom("companies")
    .select(["id", "name", "description", "created_at"])
    .where("client_id", "=", clientId)
    .where("id", "=", companyId)
    .executeTakeFirst();
  if (!row) throw notFound("Company");
  return { ...row, tags: (await loadTags(db, [row.id])).get(row.id)! };
}

/** The client's companies among `companyIds`, with their tags; unknown and foreign ids are simply absent. */
export async function findCompanies(db: Kysely<Database>, clientId: string, companyIds: string[]): Promise<Map<string, CompanySnapshot>> {
  if (companyIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("companies")
    .select(["id", "name", "description", "created_at"])
    .where("client_id", "=", clientId)
    .where("id", "in", companyIds)
    .execute();
  const tags = await loadTags(
    db,
    rows.map((row) => row.id),
  );
  return new Map(rows.map((row) => [row.id, { ...row, tags: tags.get(row.id)! }]));
}

async function toResources(ctx: DomainContext, db: Kysely<Database>, clientId: string, rows: CompanyRow[]): Promise<CompanyResource[]> {
  const ids = rows.map((row) => row.id);
  const [tags, connections] = await Promise.all([loadTags(db, ids), loadConnections(ctx, db, clientId, { companyIds: ids })]);
  return rows.map((row) => ({
    ...companyDetails(ctx.publicUrl, { ...row, tags: tags.get(row.id)! }),
    dataConnections: connections.filter((connection) => connection.companyId === row.id).map((connection) => connection.resource),
  }));
}

async function writeTags(db: Kysely<Database>, clientId: string, companyId: string, tags: Tags): Promise<void> {
  await db.deleteFrom("company_tags").where("company_id", "=", companyId).execute();
  const entries = Object.entries(tags);
  if (entries.length > 0) {
    await db
      .insertInto("company_tags")
      .values(entries.map(([key, value]) => ({ company_id: companyId, client_id: clientId, key, value })))
      .execute();
  }
}

export async function createCompany(ctx: DomainContext, clientId: string, input: CompanyInput): Promise<CompanyResource> {
  const now = ctx.clock.now();
  const company: CompanySnapshot = { id: newId(), name: input.name, description: input.description ?? null, created_at: now, tags: input.tags ?? {} };
  return ctx.store.transaction(async ({ tx, wakeWorkers: wake }) => {
    await tx
      .insertInto("companies")
      .values({ id: company.id, client_id: clientId, name: company.name, description: company.description, created_at: now })
      .execute();
    await writeTags(tx, clientId, company.id, company.tags);
    const details = companyDetails(ctx.publicUrl, company);
    await recordEvent(tx, wake, { clientId, eventType: "company.created", company, payload: details, generatedAt: now });
    return { ...details, dataConnections: [] };
  });
}

export async function getCompany(ctx: DomainContext, clientId: string, companyId: string): Promise<CompanyResource> {
  const company = await findCompany(ctx.store.db, clientId, companyId);
  return (await toResources(ctx, ctx.store.db, clientId, [company]))[0]!;
}

const ORDERABLE = { name: "name", created: "created_at", id: "id" } as const;

/** Lists companies; `query` keys `id` and `name` address the company, any other key a tag. */
export async function listCompanies(ctx: DomainContext, clientId: string, request: PageRequest) {
  const order = parseOrderBy(request.orderBy, ORDERABLE, "created_at");
  let filtered = ctx.store.db.selectFrom("companies").where("client_id", "=", clientId);
  const where = whereQuery<Database, "companies">(request.query, (eb, { key, operator, value }) => {
    if (key === "id" || key === "name") return compare(eb, `companies.${key}`, operator, value);
    // "!=" means the company does not carry that value (an untagged company qualifies), as in Codat.
    const tagged = (op: typeof operator) =>
      eb.exists(
        eb
          .selectFrom("company_tags")
          .select("company_tags.key")
          .whereRef("company_tags.company_id", "=", "companies.id")
          .where("company_tags.key", "=", key)
          .where((inner) => compare(inner, "company_tags.value", op, value)),
      );
    return operator === "!=" ? eb.not(tagged("=")) : tagged(operator);
  });
  if (where) filtered = filtered.where(where);
  const { rows, total } = await fetchPage(filtered, request, (query) =>
    query
      .select(["companies.id", "companies.name", "companies.description", "companies.created_at"])
      .orderBy(order.column, order.direction)
      .orderBy("companies.id"),
  );
  return pageEnvelope("/companies", request, await toResources(ctx, ctx.store.db, clientId, rows), total);
}

/** Replaces name, description and tags (absent ones are cleared); PATCH keeps what is absent. */
export async function changeCompany(
  ctx: DomainContext,
  clientId: string,
  companyId: string,
  input: Partial<CompanyInput>,
  mode: "replace" | "update",
): Promise<CompanyResource> {
  return ctx.store.transaction(async ({ tx }) => {
    const existing = await findCompany(tx, clientId, companyId);
    const next = {
      name: input.name ?? existing.name,
      description: input.description !== undefined ? input.description : mode === "replace" ? null : existing.description,
    };
    await tx.updateTable("companies").set(next).where("id", "=", companyId).where("client_id", "=", clientId).execute();
    if (input.tags !== undefined || mode === "replace") await writeTags(tx, clientId, companyId, input.tags ?? {});
    const row = await findCompany(tx, clientId, companyId);
    return (await toResources(ctx, tx, clientId, [row]))[0]!;
  });
}

/** Deletes a company and its connections, emitting `connection.deleted` for each and then `company.deleted`. */
export async function deleteCompany(ctx: DomainContext, clientId: string, companyId: string): Promise<void> {
  const now = ctx.clock.now();
  await ctx.store.transaction(async ({ tx, wakeWorkers: wake }) => {
    const company = await findCompany(tx, clientId, companyId);
    await connectionDeletedEvents(ctx, tx, wake, clientId, company);
    const deleted = await tx.deleteFrom("companies").where("id", "=", companyId).where("client_id", "=", clientId).executeTakeFirst();
    // Deleted meanwhile by a concurrent request, which emitted the events.
    if (Number(deleted.numDeletedRows) === 0) throw notFound("Company");
    await recordEvent(tx, wake, { clientId, eventType: "company.deleted", company, payload: companyDetails(ctx.publicUrl, company), generatedAt: now });
  });
}
