import { RESERVED_HEADER_NAMES } from "../constants/limits.ts";
import type { ValidationItem } from "../errors.ts";

// The rules of consumers' custom headers, apart from the operations that store them: the sender thread applies them too, without a database.

/** RFC 7230 token. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible characters, spaces and tabs: no CR, LF or other control characters. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_NAME_LENGTH = 100;
const MAX_VALUE_LENGTH = 4096;

export type CustomHeaders = Record<string, string>;

/** Names and masked values: header values are often credentials, so only their last characters are shown. */
export function maskedHeaders(headers: CustomHeaders): { headers: CustomHeaders } {
  return { headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, value.length >= 12 ? `****${value.slice(-4)}` : "****"])) };
}

/** Errors name the header, never its value. */
export function headerErrors(headers: CustomHeaders): ValidationItem[] {
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
export function mergedHeaders(current: CustomHeaders, headers: CustomHeaders): CustomHeaders {
  const result = { ...current };
  for (const [name, value] of Object.entries(headers)) {
    for (const existing of Object.keys(result)) if (existing.toLowerCase() === name.toLowerCase()) delete result[existing];
    result[name] = value;
  }
  return result;
}
