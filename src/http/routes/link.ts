import type { FastifyInstance, FastifyReply } from "fastify";
import type { DomainContext } from "../../domain/context.ts";
import { authorizeConnection, createConnection, findLinkSession, linkUrl, loadConnections, recordLinkOutcome } from "../../domain/connections.ts";
import { listIntegrations } from "../../domain/integrations/registry.ts";
import { CANCELLED_OUTCOME } from "../../domain/integrations/sandbox.ts";
import { TOKEN_FIELD, type LinkFormGuard } from "../link-forms.ts";
import { pathParams } from "../schemas.ts";

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char]!);

/** A page of plain HTML; the headers every HTML answer carries are set for the whole server (see app.ts). */
function page(reply: FastifyReply, title: string, body: string) {
  return reply
    .type("text/html; charset=utf-8")
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<title>${escapeHtml(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}` +
        `button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}</style></head><body>${body}</body></html>`,
    );
}

const tokenField = (token: string) => `<input type="hidden" name="${TOKEN_FIELD}" value="${escapeHtml(token)}">`;

/** The link pages' forms post a field or two; anyone may post to them, without an API key, so their bodies stay small. */
const LINK_BODY_LIMIT_BYTES = 1024;

type FormBody = { Body: Record<string, unknown> | undefined };

/**
 * The hosted link pages an SMB is sent to (a company's `redirect`, a
 * connection's `linkUrl`). Plain HTML forms, no JavaScript; reached by the
 * unguessable ids in the URL rather than an API key, and every form POST
 * checked by the guard against cross-site requests.
 */
export function linkRoutes(app: FastifyInstance, ctx: DomainContext, guard: LinkFormGuard): void {
  const connectionPath = "/link/companies/:companyId/connections/:connectionId";
  type Params = { companyId: string; connectionId: string };
  const schema = { params: pathParams("companyId", "connectionId") };

  app.get<{ Params: { companyId: string } }>("/link/companies/:companyId", { schema: { params: pathParams("companyId") } }, async (request, reply) => {
    const { companyId } = request.params;
    const company = await ctx.store.db.selectFrom("companies").select(["client_id", "name"]).where("id", "=", companyId).executeTakeFirst();
    if (!company) return reply.callNotFound();
    const connections = await loadConnections(ctx, ctx.store.db, company.client_id, { companyIds: [companyId] });
    const existing = connections
      .map(({ resource }) => `<li><a href="${escapeHtml(resource.linkUrl)}">${escapeHtml(resource.platformName)}</a>: ${resource.status}</li>`)
      .join("");
    const choices = listIntegrations()
      .map((integration) => `<button name="platformKey" value="${integration.key}">Connect ${escapeHtml(integration.name)}</button>`)
      .join("");
    return page(
      reply,
      `Connect ${company.name}`,
      `<h1>Connect ${escapeHtml(company.name)}</h1>${existing ? `<ul>${existing}</ul>` : ""}` +
        `<form method="post" action="/link/companies/${companyId}/connections">${tokenField(guard.token([companyId]))}${choices}</form>`,
    );
  });

  app.post<{ Params: { companyId: string } } & FormBody>(
    "/link/companies/:companyId/connections",
    { schema: { params: pathParams("companyId") }, bodyLimit: LINK_BODY_LIMIT_BYTES },
    async (request, reply) => {
      const { companyId } = request.params;
      guard.check(request, [companyId]);
      const company = await ctx.store.db.selectFrom("companies").select("client_id").where("id", "=", companyId).executeTakeFirst();
      if (!company) return reply.callNotFound();
      const platformKey = request.body?.platformKey;
      const connection = await createConnection(ctx, company.client_id, companyId, typeof platformKey === "string" ? platformKey : "");
      return reply.redirect(connection.linkUrl.replace(ctx.publicUrl, ""), 303);
    },
  );

  app.get<{ Params: Params }>(`${connectionPath}/start`, { schema }, async (request, reply) => {
    const { companyId, connectionId } = request.params;
    const session = await findLinkSession(ctx, companyId, connectionId);
    const token = tokenField(guard.token([companyId, connectionId]));
    const action = (verb: string) => `/link/companies/${companyId}/connections/${connectionId}/${verb}`;
    return page(
      reply,
      `Connect to ${session.integration.name}`,
      `<h1>Connect ${escapeHtml(session.companyName)} to ${escapeHtml(session.integration.name)}</h1>` +
        `<p>Status: <strong id="status">${session.status}</strong></p>` +
        `<p>${escapeHtml(session.companyName)} is asked to share its ${session.integration.sourceType.toLowerCase()} data.</p>` +
        `<form method="post" action="${action("authorize")}" style="display:inline">${token}<button type="submit" id="authorize">Authorize</button></form>` +
        `<form method="post" action="${action("cancel")}" style="display:inline">${token}<button type="submit" id="cancel">Cancel</button></form>`,
    );
  });

  for (const verb of ["authorize", "cancel"] as const) {
    app.post<{ Params: Params } & FormBody>(`${connectionPath}/${verb}`, { schema, bodyLimit: LINK_BODY_LIMIT_BYTES }, async (request, reply) => {
      const { companyId, connectionId } = request.params;
      guard.check(request, [companyId, connectionId]);
      const session = await findLinkSession(ctx, companyId, connectionId);
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
      return page(
        reply,
        message,
        `<h1>${escapeHtml(message)}</h1><p>Status: <strong id="status">${connection.status}</strong></p>` +
          `<p><a href="${escapeHtml(linkUrl(ctx.publicUrl, companyId, connectionId))}">Back</a></p>`,
      );
    });
  }
}
