import type { components } from "../generated/codat.d.ts";
import { invalidFields, type ValidationItem } from "../errors.ts";
import type { ClientId } from "../ids.ts";
import { findClient } from "../storage/clients.ts";
import { findClientProfile, putClientProfile, type ClientProfileRow } from "../storage/client-profiles.ts";
import type { AppContext } from "./context.ts";
import { isRedirectTemplate } from "./redirect-url.ts";

/** Codat's profile, with Hookline's `alertAuthHeader`: the Authorization header sent with legacy rule webhooks. */
export type ProfileResource = components["schemas"]["Profile"] & { alertAuthHeader?: string };

const isHttpUrl = (text: string) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol);

/** The client's profile row; before it sets one, its name and no redirect. */
export async function clientProfile(ctx: AppContext, clientId: ClientId): Promise<ClientProfileRow> {
  const stored = await findClientProfile(ctx.store.db, clientId);
  if (stored) return stored;
  const client = await findClient(ctx.store.db, clientId);
  return {
    client_id: clientId,
    name: client?.name ?? "",
    logo_url: null,
    icon_url: null,
    redirect_url: "",
    white_list_urls: [],
    alert_auth_header: null,
    updated_at: 0,
  };
}

/** What the link pages show of the client the customer shares its data with: its profile's name and logo. */
export interface ClientBranding {
  name: string;
  /** The profile's logoUrl (http or https); null without one. */
  logoUrl: string | null;
}

export async function clientBranding(ctx: AppContext, clientId: ClientId): Promise<ClientBranding> {
  const profile = await clientProfile(ctx, clientId);
  return { name: profile.name, logoUrl: profile.logo_url };
}

function toResource(ctx: AppContext, row: ClientProfileRow): ProfileResource {
  return {
    name: row.name,
    ...(row.logo_url !== null && { logoUrl: row.logo_url }),
    ...(row.icon_url !== null && { iconUrl: row.icon_url }),
    redirectUrl: row.redirect_url,
    whiteListUrls: row.white_list_urls,
    ...(row.alert_auth_header !== null && { alertAuthHeader: ctx.secretBox.open(row.alert_auth_header, "alert-auth-header", row.client_id) }),
  };
}

export async function getProfile(ctx: AppContext, clientId: ClientId): Promise<ProfileResource> {
  return toResource(ctx, await clientProfile(ctx, clientId));
}

/** Replaces the client's profile; 400, changing nothing, for a URL that is not http(s) or a redirectUrl no redirect can be built from. */
export async function updateProfile(ctx: AppContext, clientId: ClientId, body: ProfileResource): Promise<ProfileResource> {
  const problems: ValidationItem[] = [];
  const problem = (itemId: string, message: string) => problems.push({ itemId, message, validatorName: "url" });
  if (body.name.trim() === "") problems.push({ itemId: "name", message: "name must not be empty", validatorName: "required" });
  if (!isRedirectTemplate(body.redirectUrl)) problem("redirectUrl", "redirectUrl must be an http or https URL once its {placeholders} are filled, or empty");
  for (const field of ["logoUrl", "iconUrl"] as const) {
    const value = body[field];
    if (value !== undefined && value !== "" && !isHttpUrl(value)) problem(field, `${field} must be an http or https URL`);
  }
  for (const [index, url] of (body.whiteListUrls ?? []).entries()) {
    if (!isHttpUrl(url)) problem(`whiteListUrls[${index}]`, `whiteListUrls[${index}] must be an http or https URL`);
  }
  if (problems.length > 0) throw invalidFields(problems);
  const row: ClientProfileRow = {
    client_id: clientId,
    name: body.name,
    logo_url: body.logoUrl || null,
    icon_url: body.iconUrl || null,
    redirect_url: body.redirectUrl,
    white_list_urls: body.whiteListUrls ?? [],
    alert_auth_header: body.alertAuthHeader ? ctx.secretBox.seal(body.alertAuthHeader, "alert-auth-header", clientId) : null,
    updated_at: ctx.clock.now(),
  };
  await putClientProfile(ctx.store.db, row);
  return toResource(ctx, row);
}
