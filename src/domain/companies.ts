import type { components } from "../generated/codat.d.ts";
import { isoDate } from "../clock.ts";
import { notFound } from "../errors.ts";
import { newId, type ClientId, type CompanyId } from "../ids.ts";
import * as companies from "../storage/companies.ts";
import type { CompanyRow, CompanySnapshot, Tags } from "../storage/companies.ts";
import type { Db } from "../storage/database.ts";
import { findCompany } from "./company-reference.ts";
import { companyConnections, connectionDeletedEvents, type ConnectionResource } from "./connections.ts";
import type { AppContext } from "./context.ts";
import { recordEvent } from "./events/outbox.ts";
import { pageEnvelope, type PageRequest } from "./paging.ts";
import { parseFilter, parseOrderBy } from "./query.ts";

export type CompanyResource = components["schemas"]["Company"] & { description?: string; dataConnections?: ConnectionResource[] };

export interface CompanyInput {
  name: string;
  description?: string | undefined;
  tags?: Tags | undefined;
}

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

async function toResources(ctx: AppContext, db: Db, clientId: ClientId, rows: CompanyRow[]): Promise<CompanyResource[]> {
  const ids = rows.map((row) => row.id);
  const [tags, connections] = await Promise.all([companies.loadTags(db, ids), companyConnections(ctx, db, clientId, ids)]);
  return rows.map((row) => ({
    ...companyDetails(ctx.config.publicUrl, { ...row, tags: tags.get(row.id)! }),
    dataConnections: connections.filter((connection) => connection.companyId === row.id).map((connection) => connection.resource),
  }));
}

export async function createCompany(ctx: AppContext, clientId: ClientId, input: CompanyInput): Promise<CompanyResource> {
  const now = ctx.clock.now();
  const company: CompanySnapshot = {
    id: newId<CompanyId>(),
    name: input.name,
    description: input.description ?? null,
    created_at: now,
    tags: input.tags ?? {},
  };
  return ctx.store.transaction(async (uow) => {
    await companies.insertCompany(uow.tx, clientId, company);
    const details = companyDetails(ctx.config.publicUrl, company);
    await recordEvent(uow, { clientId, eventType: "company.created", company, payload: details, generatedAt: now });
    return { ...details, dataConnections: [] };
  });
}

export async function getCompany(ctx: AppContext, clientId: ClientId, companyId: CompanyId): Promise<CompanyResource> {
  const company = await findCompany(ctx.store.db, clientId, companyId);
  return (await toResources(ctx, ctx.store.db, clientId, [company]))[0]!;
}

const ORDERABLE = { name: "name", created: "created_at", id: "id" } as const;

/** Lists companies; `query` keys `id` and `name` address the company, any other key a tag. */
export async function listCompanies(ctx: AppContext, clientId: ClientId, request: PageRequest) {
  const order = parseOrderBy(request.orderBy, ORDERABLE, "created_at");
  const filter = parseFilter(request.query);
  const { rows, total } = await companies.listCompanies(ctx.store.db, clientId, { filter, order, slice: request });
  return pageEnvelope("/companies", request, await toResources(ctx, ctx.store.db, clientId, rows), total);
}

/** Replaces name, description and tags (absent ones are cleared); PATCH keeps what is absent. */
export async function changeCompany(
  ctx: AppContext,
  clientId: ClientId,
  companyId: CompanyId,
  input: Partial<CompanyInput>,
  mode: "replace" | "update",
): Promise<CompanyResource> {
  return ctx.store.transaction(async ({ tx }) => {
    const existing = await findCompany(tx, clientId, companyId);
    await companies.updateCompany(tx, clientId, companyId, {
      name: input.name ?? existing.name,
      description: input.description !== undefined ? input.description : mode === "replace" ? null : existing.description,
    });
    if (input.tags !== undefined || mode === "replace") await companies.replaceTags(tx, clientId, companyId, input.tags ?? {});
    const row = await findCompany(tx, clientId, companyId);
    return (await toResources(ctx, tx, clientId, [row]))[0]!;
  });
}

/** Deletes a company and its connections, emitting `connection.deleted` for each and then `company.deleted`. */
export async function deleteCompany(ctx: AppContext, clientId: ClientId, companyId: CompanyId): Promise<void> {
  const now = ctx.clock.now();
  await ctx.store.transaction(async (uow) => {
    const company = await findCompany(uow.tx, clientId, companyId);
    await connectionDeletedEvents(ctx, uow, clientId, company);
    // Deleted meanwhile by a concurrent request, which emitted the events.
    if (!(await companies.deleteCompany(uow.tx, clientId, companyId))) throw notFound("Company");
    await recordEvent(uow, { clientId, eventType: "company.deleted", company, payload: companyDetails(ctx.config.publicUrl, company), generatedAt: now });
  });
}
