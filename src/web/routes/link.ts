import type { FastifyInstance } from "fastify";
import { authorizeConnection, createConnection, linkUrl, recordLinkOutcome } from "../../domain/connections.ts";
import type { AppContext } from "../../domain/context.ts";
import { recordLinkStep } from "../../domain/link-funnel.ts";
import { findCompanyLinkPage, findLinkCompany, findLinkSession } from "../../domain/link.ts";
import { asId, type CompanyId, type ConnectionId } from "../../ids.ts";
import { CANCELLED_OUTCOME } from "../../integrations/provider.ts";
import { listIntegrations } from "../../integrations/registry.ts";
import { pathParams } from "../../openapi/codat.ts";
import { TOKEN_FIELD, type LinkFormGuard } from "../link-forms.ts";
import { renderPage } from "../render.ts";

/** The link pages' forms post a field or two; anyone may post to them, without an API key, so their bodies stay small. */
const LINK_BODY_LIMIT_BYTES = 1024;

type FormBody = { Body: Record<string, unknown> | undefined };

/**
 * The hosted link pages an SMB is sent to (a company's `redirect`, a
 * connection's `linkUrl`). Plain HTML forms, no JavaScript; reached by the
 * unguessable ids in the URL rather than an API key, and every form POST
 * checked by the guard against cross-site requests.
 */
export function linkRoutes(app: FastifyInstance, ctx: AppContext, guard: LinkFormGuard): void {
  const connectionPath = "/link/companies/:companyId/connections/:connectionId";
  type Params = { companyId: string; connectionId: string };
  const schema = { params: pathParams("companyId", "connectionId") };
  const connectionIds = (params: Params) => ({ companyId: asId<CompanyId>(params.companyId), connectionId: asId<ConnectionId>(params.connectionId) });

  app.get<{ Params: { companyId: string } }>("/link/companies/:companyId", { schema: { params: pathParams("companyId") } }, async (request, reply) => {
    const companyId = asId<CompanyId>(request.params.companyId);
    const company = await findCompanyLinkPage(ctx, companyId);
    if (!company) return reply.callNotFound();
    return renderPage(reply, "company", {
      companyName: company.name,
      connections: company.connections,
      integrations: listIntegrations(),
      action: `/link/companies/${companyId}/connections`,
      form: { field: TOKEN_FIELD, token: guard.token([companyId]) },
    });
  });

  app.post<{ Params: { companyId: string } } & FormBody>(
    "/link/companies/:companyId/connections",
    { schema: { params: pathParams("companyId") }, bodyLimit: LINK_BODY_LIMIT_BYTES },
    async (request, reply) => {
      const companyId = asId<CompanyId>(request.params.companyId);
      guard.check(request, [companyId]);
      const company = await findLinkCompany(ctx, companyId);
      if (!company) return reply.callNotFound();
      const platformKey = request.body?.platformKey;
      const connection = await createConnection(ctx, company.clientId, companyId, typeof platformKey === "string" ? platformKey : "");
      recordLinkStep(ctx, { companyId, connectionId: asId<ConnectionId>(connection.id!) }, "chosen");
      return reply.redirect(connection.linkUrl.replace(ctx.config.publicUrl, ""), 303);
    },
  );

  app.get<{ Params: Params; Querystring: { key?: unknown } }>(`${connectionPath}/start`, { schema }, async (request, reply) => {
    const { companyId, connectionId } = connectionIds(request.params);
    const session = await findLinkSession(ctx, companyId, connectionId, { linkKey: request.query.key });
    recordLinkStep(ctx, { companyId, connectionId }, "opened");
    const action = (verb: string) => `/link/companies/${companyId}/connections/${connectionId}/${verb}`;
    switch (session.start.kind) {
      case "consent":
        recordLinkStep(ctx, { companyId, connectionId }, "redirected");
        return renderPage(reply, "consent", {
          companyName: session.companyName,
          integrationName: session.integration.name,
          status: session.status,
          sourceType: session.integration.sourceType,
          actions: { authorize: action("authorize"), cancel: action("cancel") },
          form: { field: TOKEN_FIELD, token: guard.token([companyId, connectionId]) },
        });
    }
  });

  for (const verb of ["authorize", "cancel"] as const) {
    app.post<{ Params: Params } & FormBody>(`${connectionPath}/${verb}`, { schema, bodyLimit: LINK_BODY_LIMIT_BYTES }, async (request, reply) => {
      const { companyId, connectionId } = connectionIds(request.params);
      guard.check(request, [companyId, connectionId]);
      const session = await findLinkSession(ctx, companyId, connectionId);
      recordLinkStep(ctx, { companyId, connectionId }, "returned");
      // Authorize is the integration's to decide, as through the API; Cancel is the SMB's own answer.
      const connection =
        verb === "authorize"
          ? await authorizeConnection(ctx, session.clientId, companyId, connectionId, { kind: "consent" })
          : await recordLinkOutcome(ctx, session.clientId, companyId, connectionId, CANCELLED_OUTCOME);
      const message =
        verb === "cancel"
          ? "Linking was cancelled. Nothing was shared."
          : connection.status === "Linked"
            ? "Your data is now connected. You can close this page."
            : `${session.integration.name} did not link your data. Nothing was shared.`;
      return renderPage(reply, "outcome", {
        message,
        status: connection.status,
        backUrl: linkUrl(ctx.config.publicUrl, companyId, connectionId, session.linkKey),
      });
    });
  }
}
