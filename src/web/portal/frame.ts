import type { FastifyRequest } from "fastify";
import { assetUrl } from "./assets.ts";
import type { PortalFrame } from "./pages.ts";
import { CSRF_FIELD, type CsrfGuard } from "./session.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The signed-in client's name, for the layout. */
    portalClientName: string;
    /** The sites (origins) the signed-in client's profile lets embed its portal pages; unset before sign-in. */
    portalFrameAncestors?: string[];
  }
}

export const portalAssets = (): PortalFrame["assets"] => ({
  css: assetUrl("portal.css"),
  uplotCss: assetUrl("uplot.min.css"),
  htmx: assetUrl("htmx.min.js"),
  uplot: assetUrl("uplot.min.js"),
  script: assetUrl("portal.js"),
});

/**
 * The notices a page shows after a change, named in its URL (`?done=`): a
 * redirect after a POST carries only the name, never text a link could forge.
 */
const NOTICES: Record<string, (count: number) => PortalFrame["notice"]> = {
  created: () => ({ kind: "ok", text: "Consumer created. Send it an example from Testing to check your endpoint." }),
  saved: () => ({ kind: "ok", text: "Changes saved." }),
  enabled: () => ({ kind: "ok", text: "Consumer enabled: deliveries resume." }),
  disabled: () => ({ kind: "warn", text: "Consumer disabled: attempts that fall due are skipped until you enable it." }),
  deleted: () => ({ kind: "ok", text: "Consumer deleted." }),
  resent: () => ({ kind: "ok", text: "Message queued for delivery again." }),
  recovered: (count) => ({ kind: "ok", text: `${count} failed message${count === 1 ? "" : "s"} scheduled for delivery again.` }),
  replayed: (count) => ({ kind: "ok", text: `${count} message${count === 1 ? "" : "s"} scheduled for delivery again.` }),
  "key-deleted": () => ({ kind: "ok", text: "API key deleted." }),
  "transformation-saved": () => ({ kind: "ok", text: "Transformation saved: the next deliveries run it." }),
  "transformation-deleted": () => ({ kind: "ok", text: "Transformation deleted: deliveries carry the event as it is again." }),
};

/** The layout's part of a page for this request's session. */
export function frameFor(
  request: FastifyRequest,
  guard: CsrfGuard,
  section: PortalFrame["section"],
  title: string,
  notice?: PortalFrame["notice"],
): PortalFrame {
  const session = request.portalSession;
  const query = (request.query ?? {}) as Record<string, unknown>;
  const notices = typeof query.done === "string" && Object.hasOwn(NOTICES, query.done) ? NOTICES[query.done] : undefined;
  return {
    title,
    section,
    clientName: request.portalClientName,
    readOnly: session.readOnly,
    embedded: session.apiKeyId === null,
    limited: session.consumerIds !== null,
    csrf: { field: CSRF_FIELD, token: guard.token(session) },
    assets: portalAssets(),
    notice: notice ?? notices?.(Number(query.count) || 0) ?? null,
  };
}

/** A form field's one value ("" when absent). */
export function field(body: Record<string, unknown> | undefined, name: string): string {
  const value = body?.[name];
  if (Array.isArray(value)) return String(value[0] ?? "");
  return typeof value === "string" ? value : "";
}

/** A form field's every value (checkboxes), or the non-empty lines of a text area. */
export function fieldList(body: Record<string, unknown> | undefined, name: string): string[] {
  const value = body?.[name];
  const values = Array.isArray(value) ? value.map(String) : typeof value === "string" ? [value] : [];
  return values
    .flatMap((entry) => entry.split(/\r?\n/))
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/** A `datetime-local` value (read as UTC, as the page says) as the ISO 8601 the API takes; empty stays undefined. */
export function utcInstant(text: string): string | undefined {
  if (text === "") return undefined;
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(text) ? `${text}:00Z` : text;
}
