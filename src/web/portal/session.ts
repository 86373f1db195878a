import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
// The cookie plugin's additions to requests and replies (cookies, setCookie, unsignCookie).
import type {} from "@fastify/cookie";
import { apiKeyIsActive } from "../../domain/clients.ts";
import type { AppContext } from "../../domain/context.ts";
import type { PortalGrant } from "../../domain/portal-access.ts";
import { HooklineError } from "../../errors.ts";
import type { ApiKeyId, ConsumerId } from "../../ids.ts";

/** The session cookie. Its path keeps it off the API's requests. */
export const SESSION_COOKIE = "hookline_portal";
export const PORTAL_PATH = "/portal";
/** The hidden field of every portal form that changes something. */
export const CSRF_FIELD = "_csrf";

/**
 * A portal session: what it may see and do, and how it began. It lives in a
 * signed cookie (HttpOnly, so no script reads it): the API key a session was
 * signed in with is never stored, only the key's id, checked at every request
 * so that deleting the key ends the session.
 */
export interface PortalSession extends PortalGrant {
  /** Random: the CSRF token is bound to it. */
  id: string;
  /** The key it was signed in with; null for a session opened by an access link. */
  apiKeyId: ApiKeyId | null;
  expiresAt: number;
}

declare module "fastify" {
  interface FastifyRequest {
    portalSession: PortalSession;
  }
}

/** The keys that sign the session cookie, derived from the encryption keys: every API process accepts the same cookies. */
export const sessionCookieKeys = (ctx: AppContext): Buffer[] => ctx.secretBox.derivedKeys("portal-session");

/**
 * Starts a session: a cookie sent back only to this server's portal pages.
 * Sessions signed in with a key are SameSite=Strict. A session opened by an
 * access link is usually inside another site's iframe, where a browser sends
 * a SameSite=Strict or Lax cookie with none of the frame's requests: over
 * TLS it is SameSite=None and Partitioned (CHIPS), so it lives only under the
 * embedding site; the CSRF token and Origin check guard its forms instead.
 */
export function startSession(ctx: AppContext, reply: FastifyReply, grant: PortalGrant, apiKeyId: ApiKeyId | null): void {
  const session: PortalSession = { ...grant, id: randomBytes(18).toString("base64url"), apiKeyId, expiresAt: ctx.clock.now() + ctx.config.portal.sessionTtlMs };
  const overTls = ctx.config.publicUrl.startsWith("https:");
  const crossSite = apiKeyId === null && overTls;
  reply.setCookie(SESSION_COOKIE, Buffer.from(JSON.stringify(session)).toString("base64url"), {
    path: PORTAL_PATH,
    httpOnly: true,
    secure: overTls,
    sameSite: crossSite ? "none" : "strict",
    partitioned: crossSite,
    signed: true,
    maxAge: Math.floor(ctx.config.portal.sessionTtlMs / 1000),
  });
}

export function endSession(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: PORTAL_PATH });
}

/** The request's session, or undefined when it has none, or one that was changed, has expired or whose key was deleted. */
export async function readSession(ctx: AppContext, request: FastifyRequest): Promise<PortalSession | undefined> {
  const cookie = request.cookies[SESSION_COOKIE];
  if (cookie === undefined) return undefined;
  const unsigned = request.unsignCookie(cookie);
  if (!unsigned.valid || unsigned.value === null) return undefined;
  let session: PortalSession;
  try {
    session = JSON.parse(Buffer.from(unsigned.value, "base64url").toString("utf8")) as PortalSession;
  } catch {
    return undefined;
  }
  if (ctx.clock.now() >= session.expiresAt) return undefined;
  if (session.apiKeyId !== null && !(await apiKeyIsActive(ctx, session.clientId, session.apiKeyId))) return undefined;
  return session;
}

/** Whether the session may see this consumer: a session limited to some consumers sees the others as not there. */
export const seesConsumer = (session: PortalSession, consumerId: ConsumerId): boolean =>
  session.consumerIds === null || session.consumerIds.includes(consumerId);

export interface CsrfGuard {
  token(session: PortalSession): string;
  /** Refuses (403) a POST not sent from a page of this server: the sign-in form has no session to bind a token to. */
  checkOrigin(request: FastifyRequest): void;
  /**
   * Refuses (403) a POST not sent from one of the portal's own pages with the
   * session's token, and a change made in a read-only session (unless it
   * changes only the session itself, as signing out does).
   */
  check(request: FastifyRequest<{ Body: Record<string, unknown> | undefined }>, sessionOnly?: boolean): void;
}

/**
 * CSRF protection: the token is an HMAC of the session's id, so it is bound
 * to the session and nothing is stored; a change must also come from this
 * server's own origin (Origin, else Referer), which a page elsewhere cannot
 * forge in a browser.
 */
export function csrfGuard(ctx: AppContext): CsrfGuard {
  const keys = ctx.secretBox.derivedKeys("portal-csrf");
  const publicOrigin = new URL(ctx.config.publicUrl).origin;
  const tokenUnder = (key: Buffer, session: PortalSession) => createHmac("sha256", key).update(session.id).digest("base64url");
  return {
    token: (session) => tokenUnder(keys[0]!, session),
    checkOrigin(request) {
      const origin = request.headers.origin ?? originOf(request.headers.referer);
      if (origin !== publicOrigin) throw new HooklineError(403, "This change was not sent from a portal page; open the portal and try again");
    },
    check(request, sessionOnly = false) {
      const session = request.portalSession;
      this.checkOrigin(request);
      const sent = request.body?.[CSRF_FIELD];
      const given = Buffer.from(typeof sent === "string" ? sent : "");
      const matches = (key: Buffer) => {
        const expected = Buffer.from(tokenUnder(key, session));
        return expected.length === given.length && timingSafeEqual(expected, given);
      };
      if (!keys.some(matches)) throw new HooklineError(403, "This form has expired or did not come from your portal session; reload the page and try again");
      if (session.readOnly && !sessionOnly) throw new HooklineError(403, "This portal is read-only: it shows your webhooks but cannot change them");
    },
  };
}

function originOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
