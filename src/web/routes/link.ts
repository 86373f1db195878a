import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { authorizeConnection, createConnection, linkUrl, recordLinkOutcome, type ConnectionResource } from "../../domain/connections.ts";
import type { AppContext } from "../../domain/context.ts";
import { recordLinkStep } from "../../domain/link-funnel.ts";
import { findCompanyLinkPage, findLinkCompany, findLinkSession, linkRedirect, type LinkSession } from "../../domain/link.ts";
import { beginRedirectLink, finishRedirectLink } from "../../domain/redirect-link.ts";
import { HooklineError } from "../../errors.ts";
import { asId, type CompanyId, type ConnectionId } from "../../ids.ts";
import { CANCELLED_OUTCOME, type IntegrationProvider } from "../../integrations/provider.ts";
import { logoPath } from "../../integrations/registry.ts";
import { pathParams } from "../../openapi/codat.ts";
import { TOKEN_FIELD, type LinkFormGuard } from "../link-forms.ts";
import { renderPage } from "../render.ts";

/** The link pages' forms post a field or two; anyone may post to them, without an API key, so their bodies stay small. */
const LINK_BODY_LIMIT_BYTES = 1024;
/** A credentials form: up to ten fields the integration declares, each up to a thousand characters. */
const CREDENTIALS_BODY_LIMIT_BYTES = 16 * 1024;

type FormBody = { Body: Record<string, unknown> | undefined };

/** The cookie that binds a sign-in at a provider to the browser that started it, for the callback to check. */
const SIGN_IN_COOKIE = "hookline_sign_in";
const CALLBACK_PATH = "/link/oauth/callback";

/**
 * The sign-in cookie's header: only the callback gets it, no script reads it,
 * and Lax sends it on the provider's top-level redirect back but never on
 * another site's request. Its value is a base64url token, so it needs no encoding.
 */
function signInCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SIGN_IN_COOKIE}=${value}; Path=${CALLBACK_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

/** The sign-in cookie's value, from a Cookie header. */
function signInCookieOf(header: string | undefined): string | undefined {
  for (const pair of (header ?? "").split(";")) {
    const [name, value] = pair.trim().split("=", 2);
    if (name === SIGN_IN_COOKIE) return value;
  }
  return undefined;
}

/**
 * The query string of a link page's URL: the client's custom redirect
 * placeholders, carried from page to page until the link is over.
 */
const linkQueryOf = (request: FastifyRequest) => new URL(request.url, "http://link.invalid").searchParams;
const withQuery = (path: string, query: URLSearchParams) => (query.size === 0 ? path : `${path}?${query}`);

/** What the outcome page tells the customer about a connection after a linking attempt. */
function outcomeMessage(integration: IntegrationProvider, connection: ConnectionResource, cancelled: boolean): string {
  if (cancelled) return "Linking was cancelled. Nothing was shared.";
  if (connection.status === "Linked") return "Your data is now connected. You can close this page.";
  return `${integration.name} did not link your data. Nothing was shared.`;
}

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
  const secure = ctx.config.publicUrl.startsWith("https:");
  const connectionIds = (params: Params) => ({ companyId: asId<CompanyId>(params.companyId), connectionId: asId<ConnectionId>(params.connectionId) });

  /** The end of a linking attempt: on to the client's redirectUrl when it has one, else a page saying what happened. */
  const showOutcome = async (
    reply: FastifyReply,
    session: Pick<LinkSession, "clientId" | "client" | "integration">,
    ids: { companyId: CompanyId; connectionId: ConnectionId },
    connection: ConnectionResource,
    cancelled: boolean,
    linkQuery: URLSearchParams,
  ) => {
    const redirectUrl = await linkRedirect(ctx, session, ids.companyId, connection, linkQuery);
    const latest = connection.status === "Linked" || cancelled ? undefined : connection.dataConnectionErrors?.at(-1);
    return renderPage(reply, "outcome", {
      client: session.client,
      message: outcomeMessage(session.integration, connection, cancelled),
      detail: latest ? `What happened: ${latest.errorMessage} (${latest.statusCode}). Open your link again to retry.` : null,
      status: connection.status,
      // The link query carries the key of a reminded link URL from page to page.
      backUrl: withQuery(linkUrl(ctx.config.publicUrl, ids.companyId, ids.connectionId, null), linkQuery),
      next: redirectUrl === null ? null : { url: redirectUrl },
    });
  };

  app.get<{ Params: { companyId: string } }>("/link/companies/:companyId", { schema: { params: pathParams("companyId") } }, async (request, reply) => {
    const companyId = asId<CompanyId>(request.params.companyId);
    const company = await findCompanyLinkPage(ctx, companyId);
    if (!company) return reply.callNotFound();
    return renderPage(reply, "company", {
      client: company.client,
      companyName: company.name,
      connections: company.connections,
      integrations: ctx.integrations.enabled().map((integration) => ({
        key: integration.key,
        name: integration.name,
        logoUrl: logoPath(integration),
      })),
      action: withQuery(`/link/companies/${companyId}/connections`, linkQueryOf(request)),
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
      return reply.redirect(withQuery(connection.linkUrl.replace(ctx.config.publicUrl, ""), linkQueryOf(request)), 303);
    },
  );

  app.get<{ Params: Params; Querystring: { key?: unknown } }>(`${connectionPath}/start`, { schema }, async (request, reply) => {
    const { companyId, connectionId } = connectionIds(request.params);
    const session = await findLinkSession(ctx, companyId, connectionId, request.query.key);
    recordLinkStep(ctx, { companyId, connectionId }, "opened");
    const action = (verb: string) => withQuery(`/link/companies/${companyId}/connections/${connectionId}/${verb}`, linkQueryOf(request));
    switch (session.start.kind) {
      case "consent":
        recordLinkStep(ctx, { companyId, connectionId }, "redirected");
        return renderPage(reply, "consent", {
          client: session.client,
          companyName: session.companyName,
          integrationName: session.integration.name,
          status: session.status,
          sourceType: session.integration.sourceType,
          actions: { authorize: action("authorize"), cancel: action("cancel") },
          form: { field: TOKEN_FIELD, token: guard.token([companyId, connectionId]) },
        });
      case "credentials":
        recordLinkStep(ctx, { companyId, connectionId }, "redirected");
        return renderPage(reply, "credentials", {
          client: session.client,
          companyName: session.companyName,
          integrationName: session.integration.name,
          logoUrl: logoPath(session.integration),
          status: session.status,
          sourceType: session.integration.sourceType,
          fields: session.start.fields,
          actions: { submit: action("credentials"), cancel: action("cancel") },
          form: { field: TOKEN_FIELD, token: guard.token([companyId, connectionId]) },
        });
      case "redirect":
        return renderPage(reply, "redirect", {
          client: session.client,
          companyName: session.companyName,
          integrationName: session.integration.name,
          logoUrl: logoPath(session.integration),
          status: session.status,
          sourceType: session.integration.sourceType,
          signInUrl: action("sign-in"),
        });
    }
  });

  // A link, not a form: the page's CSP lets forms post only here, and a form's redirect to the provider would be refused.
  app.get<{ Params: Params }>(`${connectionPath}/sign-in`, { schema }, async (request, reply) => {
    const { companyId, connectionId } = connectionIds(request.params);
    const { url, state } = await beginRedirectLink(ctx, companyId, connectionId, linkQueryOf(request));
    recordLinkStep(ctx, { companyId, connectionId }, "redirected");
    reply.header("set-cookie", signInCookie(guard.token(["sign-in", state]), Math.ceil(ctx.config.integrations.signInTtlMs / 1000), secure));
    return reply.redirect(url, 303);
  });

  const refusedPage = (reply: FastifyReply, reason: string) => renderPage(reply.code(400), "link-error", { reason });

  // A link URL that a link reminder replaced, on whichever page or form of it (one rendered before the reminder and
  // submitted after it, too): a page the SMB can read. Other errors go on to the API's handler.
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof HooklineError && error.statusCode === 410) return renderPage(reply.code(410), "link-error", { reason: error.message });
    throw error;
  });

  app.get<{ Querystring: Record<string, string> }>(CALLBACK_PATH, async (request, reply) => {
    const query = new URL(request.url, "http://callback.invalid").search;
    const callbackUrl = new URL(`${ctx.config.publicUrl}${CALLBACK_PATH}${query}`);
    const cookie = signInCookieOf(request.headers.cookie);
    try {
      const { session, companyId, connectionId, connection, linkQuery } = await finishRedirectLink(
        ctx,
        callbackUrl,
        (state) => cookie === guard.token(["sign-in", state]),
      );
      recordLinkStep(ctx, { companyId, connectionId }, "returned");
      reply.header("set-cookie", signInCookie("", 0, secure));
      const cancelled = callbackUrl.searchParams.get("error") === "access_denied";
      return await showOutcome(reply, session, { companyId, connectionId }, connection, cancelled, linkQuery);
    } catch (error) {
      if (error instanceof HooklineError && error.statusCode === 400) return refusedPage(reply, error.message);
      throw error;
    }
  });

  // Browsers ask every page's origin for an icon; there is none, and a 404 would show in their consoles as an error.
  app.get("/favicon.ico", (_request, reply) => reply.code(204).send());

  app.get<{ Params: { platformKey: string; fileName: string } }>("/integrations-assets/:platformKey/:fileName", async (request, reply) => {
    const integration = ctx.integrations.list().find((candidate) => candidate.key === request.params.platformKey);
    if (!integration || integration.logo.fileName !== request.params.fileName) return reply.callNotFound();
    // An SVG opened on its own runs no script and loads nothing.
    return reply
      .type(integration.logo.contentType)
      .header("cache-control", "public, max-age=3600")
      .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
      .header("x-content-type-options", "nosniff")
      .send(integration.logo.bytes);
  });

  // What the SMB entered goes where credentials sent through the API go: the integration's verifier decides.
  app.post<{ Params: Params; Querystring: { key?: unknown } } & FormBody>(
    `${connectionPath}/credentials`,
    { schema, bodyLimit: CREDENTIALS_BODY_LIMIT_BYTES },
    async (request, reply) => {
      const { companyId, connectionId } = connectionIds(request.params);
      guard.check(request, [companyId, connectionId]);
      const session = await findLinkSession(ctx, companyId, connectionId, request.query.key);
      // The page's token is the guard's, not a credential; the integration checks that every field is one string.
      const credentials = Object.fromEntries(Object.entries(request.body ?? {}).filter(([name]) => name !== TOKEN_FIELD)) as Record<string, string>;
      recordLinkStep(ctx, { companyId, connectionId }, "returned");
      const connection = await authorizeConnection(ctx, session.clientId, companyId, connectionId, { kind: "credentials", credentials });
      return showOutcome(reply, session, { companyId, connectionId }, connection, false, linkQueryOf(request));
    },
  );

  for (const verb of ["authorize", "cancel"] as const) {
    app.post<{ Params: Params; Querystring: { key?: unknown } } & FormBody>(
      `${connectionPath}/${verb}`,
      { schema, bodyLimit: LINK_BODY_LIMIT_BYTES },
      async (request, reply) => {
        const { companyId, connectionId } = connectionIds(request.params);
        guard.check(request, [companyId, connectionId]);
        const session = await findLinkSession(ctx, companyId, connectionId, request.query.key);
        recordLinkStep(ctx, { companyId, connectionId }, "returned");
        // Authorize is the integration's to decide, as through the API; Cancel is the SMB's own answer.
        const connection =
          verb === "authorize"
            ? await authorizeConnection(ctx, session.clientId, companyId, connectionId, { kind: "consent" })
            : await recordLinkOutcome(ctx, session.clientId, companyId, connectionId, CANCELLED_OUTCOME);
        return showOutcome(reply, session, { companyId, connectionId }, connection, verb === "cancel", linkQueryOf(request));
      },
    );
  }
}
