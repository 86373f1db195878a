import type { FastifyInstance } from "fastify";
import type { components } from "../../generated/codat.d.ts";
import { changeCompany, createCompany, deleteCompany, getCompany, listCompanies } from "../../domain/companies.ts";
import type { AppContext } from "../../domain/context.ts";
import { asId, type CompanyId } from "../../ids.ts";
import { pageRequest, pagingQuery, pathParams, requestBody, type PagingQuerystring } from "../schemas.ts";

type CompanyBody = components["schemas"]["CompanyRequestBody"] & { description?: string };
type CompanyUpdateBody = components["schemas"]["CompanyUpdateRequest"] & { description?: string };
type CompanyParams = { companyId: string };

// The Codat SDKs also send `description`, which the document's request schema leaves open.
const withDescription = (pointer: string) => ({
  allOf: [requestBody(pointer), { type: "object", properties: { description: { type: "string", maxLength: 2000 } } }],
});

/** A new company's body, as POST /companies validates it (the CLI validates its own with it too). */
export const newCompanyBody = withDescription("/components/schemas/CompanyRequestBody");

export function companyRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Querystring: PagingQuerystring }>("/companies", { schema: { querystring: pagingQuery } }, (request) =>
    listCompanies(ctx, request.client.id, pageRequest(request.query)),
  );

  app.post<{ Body: CompanyBody }>("/companies", { schema: { body: newCompanyBody } }, (request) => createCompany(ctx, request.client.id, request.body));

  app.get<{ Params: CompanyParams }>("/companies/:companyId", { schema: { params: pathParams("companyId") } }, (request) =>
    getCompany(ctx, request.client.id, asId<CompanyId>(request.params.companyId)),
  );

  app.put<{ Params: CompanyParams; Body: CompanyBody }>(
    "/companies/:companyId",
    { schema: { params: pathParams("companyId"), body: withDescription("/components/schemas/CompanyRequestBody") } },
    (request) => changeCompany(ctx, request.client.id, asId<CompanyId>(request.params.companyId), request.body, "replace"),
  );

  app.patch<{ Params: CompanyParams; Body: CompanyUpdateBody }>(
    "/companies/:companyId",
    { schema: { params: pathParams("companyId"), body: withDescription("/components/schemas/CompanyUpdateRequest") } },
    (request) => changeCompany(ctx, request.client.id, asId<CompanyId>(request.params.companyId), request.body, "update"),
  );

  app.delete<{ Params: CompanyParams }>("/companies/:companyId", { schema: { params: pathParams("companyId") } }, async (request, reply) => {
    await deleteCompany(ctx, request.client.id, asId<CompanyId>(request.params.companyId));
    return reply.status(204).send();
  });
}
