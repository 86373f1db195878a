import { createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { AppContext } from "../domain/context.ts";
import { HooklineError } from "../errors.ts";

/** The hidden field that carries a page's token back with its forms. */
export const TOKEN_FIELD = "token";

export interface LinkFormGuard {
  /** The token of the page for these ids (a company, or a company and one of its connections). */
  token(ids: readonly string[]): string;
  /** Refuses (403) a form POST not sent from one of this server's pages, or without the token of the page for these ids. */
  check(request: FastifyRequest<{ Body: Record<string, unknown> | undefined }>, ids: readonly string[]): void;
}

const refused = (reason: string) => new HooklineError(403, `This form was not sent from its link page (${reason}); open the link again`);

/** The origin of a header's URL, or undefined when it holds none. */
function originOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * Guards the link pages' forms against cross-site requests. The pages need
 * no API key and set no cookie, so a page elsewhere could post a form to
 * them; a POST must come from a page on HOOKLINE_PUBLIC_URL (Origin, else
 * Referer) and carry that page's token, an HMAC of its ids under a key every
 * API process derives from the encryption keys. Pages are signed under the
 * current key and accepted under any configured one, so a key rotation does
 * not break the pages open at the time.
 */
export function linkFormGuard(ctx: AppContext): LinkFormGuard {
  const keys = ctx.secretBox.derivedKeys("link-form-token");
  const publicOrigin = new URL(ctx.config.publicUrl).origin;
  const tokenUnder = (key: Buffer, ids: readonly string[]) =>
    createHmac("sha256", key)
      .update(["link-form", ...ids].join("\n"))
      .digest("base64url");
  return {
    token: (ids) => tokenUnder(keys[0]!, ids),
    check(request, ids) {
      // A browser sends Origin with every form POST (and "null" when it hides it); Referer is the fallback for older ones.
      const origin = request.headers.origin ?? originOf(request.headers.referer);
      if (origin !== publicOrigin) throw refused(origin === undefined ? "no Origin or Referer" : "posted from another site");
      const sent = request.body?.[TOKEN_FIELD];
      const given = Buffer.from(typeof sent === "string" ? sent : "");
      const matches = (key: Buffer) => {
        const expected = Buffer.from(tokenUnder(key, ids));
        return given.length === expected.length && timingSafeEqual(given, expected);
      };
      if (!keys.some(matches)) throw refused("missing or wrong token");
    },
  };
}
