import type { components } from "../generated/codat.d.ts";
import { notFound } from "../errors.ts";
import type { ClientId, CompanyId } from "../ids.ts";
import * as companies from "../storage/companies.ts";
import type { Db } from "../storage/database.ts";

export type { CompanySnapshot, Tags } from "../storage/companies.ts";
export type CompanyReference = components["schemas"]["Company"]["definitions"]["companyReference"] & { description?: string };

/**
 * How a company is referred to from what concerns it: its connections, their
 * events and events published about it. Companies and connections both build
 * on it, so neither needs the other for it.
 */
export function companyReference(publicUrl: string, company: companies.CompanySnapshot): CompanyReference {
  return {
    id: company.id,
    name: company.name,
    ...(company.description === null ? {} : { description: company.description }),
    links: { portal: portalUrl(publicUrl, company.id) },
    tags: company.tags,
  };
}

const portalUrl = (publicUrl: string, companyId: CompanyId) => `${publicUrl}/portal/companies/${companyId}/summary`;

/** The company with its tags, scoped to the client; 404 for unknown or foreign ids. */
export async function findCompany(db: Db, clientId: ClientId, companyId: CompanyId): Promise<companies.CompanySnapshot> {
  const company = await companies.findCompany(db, clientId, companyId);
  if (!company) throw notFound("Company");
  return company;
}
