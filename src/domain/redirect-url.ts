import type { LinkFailure } from "../integrations/provider.ts";

/** The values Hosted Link substitutes for its reserved placeholders. */
export interface RedirectValues {
  clientId: string;
  companyId: string;
  connectionId: string;
  integrationId: string;
  sourceId: string;
  platform: string;
  platformName: string;
  sourceType: string;
  /** Null when the link succeeded. */
  failure: LinkFailure | null;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * Codat's standard status codes and messages for a redirect: 200 for a link,
 * 403 "User cancelled." when the customer cancelled, 500 "Unknown error
 * occurred." for anything else. `statusText` keeps the integration's own words.
 */
function standardStatus(failure: LinkFailure | null): { statusCode: string; errorMessage: string; statusText: string } {
  if (failure === null) return { statusCode: "200", errorMessage: "", statusText: "" };
  if (failure.statusCode === "403") return { statusCode: "403", errorMessage: "User cancelled.", statusText: failure.statusText };
  return { statusCode: "500", errorMessage: "Unknown error occurred.", statusText: failure.statusText };
}

/** Whether a template puts a placeholder in its scheme or host: such a URL may only resolve to a host listed in whiteListUrls. */
const hasDynamicHost = (template: string) => /\{/.test(template.replace(/^([a-z]+:\/\/[^/?#]*).*$/i, "$1"));

/**
 * The client's redirectUrl as Hosted Link builds it: each `{name}` replaced,
 * reserved names by what happened (clientId, companyId, connectionId,
 * integrationId, sourceId, platform, platformName, sourceType, statusCode,
 * errorMessage, statusText), any other name by the link URL's query
 * parameter of that name, or nothing when it has none; values URL-encoded.
 * A template whose host has a placeholder resolves only to an origin listed
 * in `whiteListUrls`; otherwise, or when it does not resolve to an http(s)
 * URL, there is no redirect (null) and the result page is shown instead.
 */
export function buildRedirectUrl(template: string, whiteListUrls: readonly string[], values: RedirectValues, custom: URLSearchParams): string | null {
  if (template === "") return null;
  const { failure, ...ids } = values;
  const reserved: Record<string, string> = { ...ids, ...standardStatus(failure) };
  const resolved = template.replace(PLACEHOLDER, (_match, name: string) => {
    const value = Object.hasOwn(reserved, name) ? reserved[name]! : (custom.get(name) ?? "");
    return encodeURIComponent(value);
  });
  let url: URL;
  try {
    url = new URL(resolved);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (hasDynamicHost(template) && !whiteListUrls.some((allowed) => URL.canParse(allowed) && new URL(allowed).origin === url.origin)) return null;
  return resolved;
}

/** Whether a redirectUrl template is one a redirect can be built from: an http(s) URL once its placeholders are filled. */
export function isRedirectTemplate(template: string): boolean {
  if (template === "") return true;
  const sample = template.replace(PLACEHOLDER, "x");
  return URL.canParse(sample) && /^https?:$/.test(new URL(sample).protocol);
}
