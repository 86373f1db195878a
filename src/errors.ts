import type { components } from "./generated/codat.d.ts";

export type ErrorMessage = components["schemas"]["ErrorMessage"];
export type ValidationItem = { itemId?: string | null; message?: string | null; validatorName?: string | null };

/**
 * The one error type of Hookline. Domain code throws it; the HTTP layer turns
 * it into Codat's ErrorMessage shape. Messages are written for the client and
 * never include secrets.
 */
export class HooklineError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly validationErrors: ValidationItem[] = [],
    readonly canBeRetried: "Unknown" | "Yes" | "No" = "No",
  ) {
    super(message);
    this.name = "HooklineError";
  }
}

export const badRequest = (message: string, validationErrors: ValidationItem[] = []) => new HooklineError(400, message, validationErrors);
/** A 400 listing every invalid field; its message names them all, one after another. */
export const invalidFields = (validationErrors: ValidationItem[]) => badRequest(validationErrors.map((error) => error.message).join("; "), validationErrors);
/** The header Hookline, like Codat, authenticates with; a 401 names it, since a raw key or a Bearer token is the usual slip. */
const AUTHORIZATION_FORMAT = 'send "Authorization: Basic <base64 of the API key>" (the key base64-encoded, not the key itself)';
export const unauthorized = (why: "missing" | "unknown") =>
  new HooklineError(
    401,
    why === "missing"
      ? `Unauthorized: no API key in Basic form: ${AUTHORIZATION_FORMAT}`
      : `Unauthorized: the API key is not valid here (unknown, revoked, or not base64-encoded): ${AUTHORIZATION_FORMAT}`,
    [],
    "Unknown",
  );
export const notFound = (what: string) => new HooklineError(404, `${what} not found`);
export const conflict = (message: string) => new HooklineError(409, message);

export function toErrorMessage(error: HooklineError, correlationId: string): ErrorMessage {
  return {
    statusCode: error.statusCode,
    service: "PublicApi",
    error: error.message,
    correlationId,
    validation: error.validationErrors.length > 0 ? { errors: error.validationErrors, warnings: [] } : null,
    canBeRetried: error.canBeRetried,
    detailedErrorCode: 0,
  };
}
