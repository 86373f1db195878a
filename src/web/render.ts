import { fileURLToPath } from "node:url";
import { Eta } from "eta";
import type { FastifyReply } from "fastify";
import type { ConnectionResource } from "../domain/connections.ts";
import type { ClientBranding } from "../domain/profile.ts";
import type { PortalPages } from "./portal/pages.ts";

/**
 * The templates sit next to this module: in src/web/templates, and in
 * dist/web/templates, where the build copies them. Values are escaped unless
 * a template asks otherwise (autoEscape, Eta's default).
 */
const eta = new Eta({ views: fileURLToPath(new URL("./templates/", import.meta.url)), autoEscape: true, cache: true });

/** Each page's template and what it shows. The layout adds the page title (`title`) around it; the portal's pages are in portal/pages.ts. */
export interface Pages extends PortalPages {
  company: {
    client: ClientBranding;
    companyName: string;
    connections: ReadonlyArray<Pick<ConnectionResource, "linkUrl" | "platformName" | "status">>;
    integrations: ReadonlyArray<{ key: string; name: string; logoUrl: string }>;
    action: string;
    form: FormToken;
  };
  consent: {
    client: ClientBranding;
    companyName: string;
    integrationName: string;
    status: string;
    sourceType: string;
    actions: { authorize: string; cancel: string };
    form: FormToken;
  };
  credentials: {
    client: ClientBranding;
    companyName: string;
    integrationName: string;
    logoUrl: string;
    status: string;
    sourceType: string;
    fields: ReadonlyArray<{ name: string; label: string; secret: boolean }>;
    actions: { submit: string; cancel: string };
    form: FormToken;
  };
  redirect: {
    client: ClientBranding;
    companyName: string;
    integrationName: string;
    logoUrl: string;
    status: string;
    sourceType: string;
    signInUrl: string;
  };
  outcome: {
    client: ClientBranding;
    message: string;
    /** What the provider said, and what to do next, after a failure. */
    detail: string | null;
    status: string;
    backUrl: string;
    /** The client's redirectUrl, built: the page sends the customer on at once. */
    next: { url: string } | null;
  };
  "link-error": { reason: string };
}

/** The hidden field that carries a page's token back with its forms. */
export interface FormToken {
  field: string;
  token: string;
}

/**
 * The CSP of every HTML page but the portal's: no script runs, no other site
 * may frame it, its forms post only back here; images come from this server,
 * and from `imageOrigin` (a client's logo) when given.
 */
export const pageSecurityPolicy = (imageOrigin?: string): string =>
  `default-src 'none'; img-src 'self'${imageOrigin ? ` ${imageOrigin}` : ""}; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

/**
 * Answers with a page. The link pages are plain HTML, no script, styled by
 * their layout's own stylesheet; the portal's pages load their stylesheet and
 * scripts from the server. The headers every HTML answer carries (CSP and the
 * rest) are set for the whole server, in http/app.ts, and for the portal by
 * its routes.
 */
export function renderPage<Name extends keyof Pages>(reply: FastifyReply, name: Name, data: Pages[Name]): FastifyReply {
  // A link page with the client's logo lets the logo's origin, and only it, serve images too.
  const logoUrl = (data as { client?: ClientBranding }).client?.logoUrl;
  if (logoUrl) reply.header("content-security-policy", pageSecurityPolicy(new URL(logoUrl).origin));
  return reply.type("text/html; charset=utf-8").send(eta.render(`./${name}`, data));
}
