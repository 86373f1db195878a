import { fileURLToPath } from "node:url";
import { Eta } from "eta";
import type { FastifyReply } from "fastify";
import type { ConnectionResource } from "../domain/connections.ts";
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
    companyName: string;
    connections: ReadonlyArray<Pick<ConnectionResource, "linkUrl" | "platformName" | "status">>;
    integrations: ReadonlyArray<{ key: string; name: string; logoUrl: string }>;
    action: string;
    form: FormToken;
  };
  consent: {
    clientName: string;
    companyName: string;
    integrationName: string;
    status: string;
    sourceType: string;
    actions: { authorize: string; cancel: string };
    form: FormToken;
  };
  credentials: {
    clientName: string;
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
    clientName: string;
    companyName: string;
    integrationName: string;
    logoUrl: string;
    status: string;
    sourceType: string;
    signInUrl: string;
  };
  outcome: {
    message: string;
    /** What the provider said, and what to do next, after a failure. */
    detail: string | null;
    status: string;
    backUrl: string;
    /** The client's redirectUrl, built: the page sends the customer on at once. */
    next: { url: string; clientName: string } | null;
  };
  "link-error": { reason: string };
}

/** The hidden field that carries a page's token back with its forms. */
export interface FormToken {
  field: string;
  token: string;
}

/**
 * Answers with a page. The link pages are plain HTML, no script, styled by
 * their layout's own stylesheet; the portal's pages load their stylesheet and
 * scripts from the server. The headers every HTML answer carries (CSP and the
 * rest) are set for the whole server, in http/app.ts, and for the portal by
 * its routes.
 */
export function renderPage<Name extends keyof Pages>(reply: FastifyReply, name: Name, data: Pages[Name]): FastifyReply {
  return reply.type("text/html; charset=utf-8").send(eta.render(`./${name}`, data));
}
