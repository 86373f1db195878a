import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { authenticateKey, findClient } from "../../domain/clients.ts";
import type { AppContext } from "../../domain/context.ts";
import { redeemAccessLink } from "../../domain/portal-access.ts";
import { clientProfile } from "../../domain/profile.ts";
import { HooklineError } from "../../errors.ts";
import { assetRoutes } from "../portal/assets.ts";
import { field, frameFor, portalAssets } from "../portal/frame.ts";
import { csrfGuard, endSession, readSession, sessionCookieKeys, startSession, type CsrfGuard } from "../portal/session.ts";
import { renderPage } from "../render.ts";
import { portalConsumerRoutes } from "./portal-consumers.ts";
import { portalMigrationRoutes } from "./portal-migration.ts";
import { portalTransformationRoutes } from "./portal-transformations.ts";
import { portalPageRoutes } from "./portal-pages.ts";

/** Form bodies of the portal stay small: its largest form is a consumer's settings. */
const PORTAL_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * The portal's own headers, over the server's defaults for HTML: scripts and
 * styles from this server only (htmx, uPlot and the portal's files; nothing
 * inline), requests back here only, and who may frame it: the sites (origins)
 * a signed-in client lists in its profile's whiteListUrls may embed its
 * pages; no site may frame the sign-in page, nor a client's pages while it
 * lists none.
 */
function portalHeaders(frameAncestors: readonly string[]): Record<string, string> {
  const ancestors = frameAncestors.length > 0 ? frameAncestors.join(" ") : "'none'";
  return {
    "content-security-policy": `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors ${ancestors}; base-uri 'none'`,
    "cache-control": "no-store",
  };
}

/** The origins of a profile's whiteListUrls, as CSP sources; a URL with a placeholder in it (for redirects) frames nothing. */
function frameAncestorsOf(whiteListUrls: readonly string[]): string[] {
  const origins = new Set<string>();
  for (const url of whiteListUrls) {
    if (url.includes("{")) continue;
    try {
      const { origin, protocol } = new URL(url);
      if (protocol === "https:" || protocol === "http:") origins.add(origin);
    } catch {
      // Not a URL: the profile's validation keeps these out; nothing is framed for one.
    }
  }
  return [...origins];
}

/** Where a sign-in goes afterwards: a portal page only, so the sign-in page cannot send anyone to another site. */
const nextPage = (text: string): string => (/^\/portal\/[^/\\]/.test(text) ? text : "/portal/activity");

/**
 * The portal, under /portal: sign-in with an API key, access links, and the
 * pages. Every page but sign-in and the access link needs a session; every
 * change is a POST checked by the CSRF guard.
 */
export async function portalRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  await app.register(cookie, { secret: sessionCookieKeys(ctx) });
  await app.register(formbody, { bodyLimit: PORTAL_BODY_LIMIT_BYTES });
  await assetRoutes(app);
  const guard = csrfGuard(ctx);

  app.addHook("onSend", async (request, reply) => {
    if (!String(reply.getHeader("content-type") ?? "").startsWith("text/html")) return;
    const ancestors = request.portalFrameAncestors ?? [];
    reply.headers(portalHeaders(ancestors));
    // X-Frame-Options knows no list of sites: where the CSP lets some frame the page, older browsers are left to refuse it.
    if (ancestors.length > 0) reply.removeHeader("x-frame-options");
  });

  const refusedPage = (reply: FastifyReply, statusCode: number, title: string, message: string, signIn: boolean) =>
    renderPage(reply.status(statusCode), "portal/refused", { title, assets: portalAssets(), message, signInUrl: signIn ? "/portal/sign-in" : null });

  app.get("/portal", async (_request, reply) => reply.redirect("/portal/activity", 303));

  app.get<{ Querystring: { next?: string } }>("/portal/sign-in", async (request, reply) =>
    renderPage(reply, "portal/sign-in", { title: "Sign in", assets: portalAssets(), next: nextPage(request.query.next ?? ""), error: null }),
  );

  app.post<{ Body: Record<string, unknown> | undefined }>("/portal/sign-in", async (request, reply) => {
    // Another site must not sign a visitor in to a session of its choosing (login CSRF).
    try {
      guard.checkOrigin(request);
    } catch (error) {
      return refusedPage(reply, 403, "Not signed in", (error as Error).message, true);
    }
    const next = nextPage(field(request.body, "next"));
    const apiKey = field(request.body, "apiKey").trim();
    const key = apiKey === "" ? undefined : await authenticateKey(ctx, apiKey);
    if (!key) {
      return renderPage(reply.status(401), "portal/sign-in", {
        title: "Sign in",
        assets: portalAssets(),
        next,
        error: "That API key is not valid. Check it and try again.",
      });
    }
    startSession(ctx, reply, { clientId: key.client.id, readOnly: false, consumerIds: null }, key.apiKeyId);
    return reply.redirect(next, 303);
  });

  // The token goes in the query string: it is longer than a path parameter may be.
  app.get<{ Querystring: { token?: string } }>("/portal/open", async (request, reply) => {
    try {
      const grant = await redeemAccessLink(ctx, request.query.token ?? "");
      startSession(ctx, reply, grant, null);
      return reply.redirect("/portal/consumers", 303);
    } catch (error) {
      if (!(error instanceof HooklineError) || error.statusCode !== 403) throw error;
      return refusedPage(reply, 403, "This link cannot open the portal", error.message, false);
    }
  });

  await app.register(async (pages) => {
    pages.addHook("preHandler", async (request: FastifyRequest, reply) => {
      const session = await readSession(ctx, request);
      if (!session) {
        endSession(reply);
        if (request.method === "GET") return reply.redirect(`/portal/sign-in?next=${encodeURIComponent(request.url)}`, 303);
        return refusedPage(reply, 401, "Your session has ended", "Sign in again, or open a new portal link, then repeat the change.", true);
      }
      request.portalSession = session;
      request.portalClientName = (await findClient(ctx, session.clientId)).name;
      request.portalFrameAncestors = frameAncestorsOf((await clientProfile(ctx, session.clientId)).white_list_urls);
    });
    pages.setErrorHandler(portalErrorHandler(guard));

    pages.post<{ Body: Record<string, unknown> | undefined }>("/portal/sign-out", async (request, reply) => {
      // Signing out changes nothing but this browser's session, so a read-only session may do it too.
      guard.check(request, true);
      endSession(reply);
      return reply.redirect("/portal/sign-in", 303);
    });
    portalConsumerRoutes(pages, ctx, guard);
    portalTransformationRoutes(pages, ctx, guard);
    portalPageRoutes(pages, ctx, guard);
    portalMigrationRoutes(pages, ctx, guard);
  });
}

/** Errors of a signed-in page as a page: a 404 for another client's ids, a 403 for a refused change; the rest as the API answers them. */
function portalErrorHandler(guard: CsrfGuard) {
  return (error: Error, request: FastifyRequest, reply: FastifyReply) => {
    if (!(error instanceof HooklineError) || error.statusCode >= 500) throw error;
    const title = error.statusCode === 404 ? "Not found" : "Not allowed";
    return renderPage(reply.status(error.statusCode), "portal/error", {
      frame: frameFor(request, guard, "none", title),
      statusCode: error.statusCode,
      message: error.message,
    });
  };
}
