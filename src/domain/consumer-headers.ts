import { badRequest, invalidFields, notFound, type ValidationItem } from "../errors.ts";
import type { DomainContext } from "./context.ts";
import { changeConsumer } from "./consumers.ts";
import { openCustomHeaders, sealCustomHeaders } from "./consumer-secrets.ts";

/**
 * Headers a consumer may not set: the Standard Webhooks signature headers and
 * the content type, which receivers rely on, and the ones that frame the HTTP
 * message. The sender drops them too, whatever is stored.
 */
export const RESERVED_HEADER_NAMES: ReadonlySet<string> = new Set([
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
  "content-type",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "host",
  "te",
  "trailer",
  "expect",
  "proxy-connection",
]);

/** RFC 7230 token. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible characters, spaces and tabs: no CR, LF or other control characters. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
export const MAX_HEADERS = 20;
const MAX_NAME_LENGTH = 100;
const MAX_VALUE_LENGTH = 4096;

export type CustomHeaders = Record<string, string>;

/** Names and masked values: header values are often credentials, so only their last characters are shown. */
export function maskedHeaders(headers: CustomHeaders): { headers: CustomHeaders } {
  return { headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, value.length >= 12 ? `****${value.slice(-4)}` : "****"])) };
}

/** Errors name the header, never its value. */
function headerErrors(headers: CustomHeaders): ValidationItem[] {
  const errors: ValidationItem[] = [];
  const invalid = (name: string, message: string) => errors.push({ itemId: `headers.${name}`, message, validatorName: "headers" });
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name) || name.length > MAX_NAME_LENGTH)
      invalid(name, `"${name}" is not a valid header name (letters, digits and !#$%&'*+-.^_\`|~, up to ${MAX_NAME_LENGTH})`);
    else if (RESERVED_HEADER_NAMES.has(name.toLowerCase()))
      invalid(name, `"${name}" is set by Hookline and cannot be overridden (reserved: ${[...RESERVED_HEADER_NAMES].join(", ")})`);
    if (typeof value !== "string" || !HEADER_VALUE.test(value) || value.length > MAX_VALUE_LENGTH) {
      invalid(name, `The value of "${name}" must be text without control characters (no CR or LF), up to ${MAX_VALUE_LENGTH} characters`);
    }
  }
  return errors;
}

/** Adds `headers` to `current`, a header given again in another letter case replacing the stored one. */
function merged(current: CustomHeaders, headers: CustomHeaders): CustomHeaders {
  const result = { ...current };
  for (const [name, value] of Object.entries(headers)) {
    for (const existing of Object.keys(result)) if (existing.toLowerCase() === name.toLowerCase()) delete result[existing];
    result[name] = value;
  }
  return result;
}

/**
 * Sets a consumer's custom headers: `replace` makes `headers` the whole set,
 * otherwise they are added to (or replace) the existing ones.
 */
export async function setCustomHeaders(
  ctx: DomainContext,
  clientId: string,
  consumerId: string,
  headers: CustomHeaders,
  mode: "replace" | "merge",
): Promise<{ headers: CustomHeaders }> {
  const errors = headerErrors(headers);
  if (errors.length > 0) throw invalidFields(errors);
  let result: CustomHeaders = {};
  await changeConsumer(ctx, clientId, consumerId, (row) => {
    result = merged(mode === "replace" ? {} : openCustomHeaders(ctx.secretBox, consumerId, row.custom_headers), headers);
    if (Object.keys(result).length > MAX_HEADERS) {
      throw badRequest(`A consumer has at most ${MAX_HEADERS} custom headers`, [
        { itemId: "headers", message: `At most ${MAX_HEADERS}`, validatorName: "headers" },
      ]);
    }
    return { custom_headers: sealCustomHeaders(ctx.secretBox, consumerId, result) };
  });
  return maskedHeaders(result);
}

export async function listCustomHeaders(ctx: DomainContext, clientId: string, consumerId: string): Promise<{ headers: CustomHeaders }> {
  const row = await ctx.store.db
    .selectFrom("consumers")
    .select("custom_headers")
    .where("client_id", "=", clientId)
    .where("id", "=", consumerId)
    .executeTakeFirst();
  if (!row) throw notFound("Webhook consumer");
  return maskedHeaders(openCustomHeaders(ctx.secretBox, consumerId, row.custom_headers));
}

/** Removes one header (any letter case); 404 when the consumer has no such header. */
export async function removeCustomHeader(ctx: DomainContext, clientId: string, consumerId: string, name: string): Promise<void> {
  await changeConsumer(ctx, clientId, consumerId, (row) => {
    const headers = openCustomHeaders(ctx.secretBox, consumerId, row.custom_headers);
    const stored = Object.keys(headers).find((existing) => existing.toLowerCase() === name.toLowerCase());
    if (stored === undefined) throw notFound("Header");
    delete headers[stored];
    return { custom_headers: sealCustomHeaders(ctx.secretBox, consumerId, headers) };
  });
}
