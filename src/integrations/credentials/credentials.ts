import { badRequest } from "../../errors.ts";
import { guardedFetch, type OutboundGuard } from "../oauth2/guarded-fetch.ts";
import { tokenEndpointFailure } from "../oauth2/oauth2.ts";
import { notApplicable, providerIdentity, type CredentialField, type IntegrationIdentity, type IntegrationProvider, type LinkOutcome } from "../provider.ts";

/** A credentials integration as the operator declared it. */
export interface CredentialsSettings extends IntegrationIdentity {
  fields: readonly CredentialField[];
  verifyUrl: string;
  /** False: what the SMB entered is verified and then forgotten. */
  keepCredentials: boolean;
  timeoutMs: number;
}

/** A field value longer than this is no credential: refused before it reaches the verifier. */
const MAX_VALUE_LENGTH = 1000;
/** The most of a verifier's refusal kept as the connection's error message. */
const MAX_MESSAGE_LENGTH = 500;

/** The declared fields from what was sent, every one present and a string; anything else is a 400. */
function credentialsOf(settings: CredentialsSettings, sent: Record<string, unknown>): Record<string, string> {
  const names = settings.fields.map((field) => field.name);
  const unknown = Object.keys(sent).filter((name) => !names.includes(name));
  if (unknown.length > 0) throw badRequest(`${settings.name} takes ${names.join(", ")}; unknown: ${unknown.join(", ")}`);
  const credentials: Record<string, string> = {};
  for (const field of settings.fields) {
    const value = sent[field.name];
    if (typeof value !== "string" || value.length === 0) throw badRequest(`${settings.name} needs ${field.name} (${field.label})`);
    if (value.length > MAX_VALUE_LENGTH) throw badRequest(`${field.name} is longer than ${MAX_VALUE_LENGTH} characters`);
    credentials[field.name] = value;
  }
  return credentials;
}

/** The verifier's own words for a refusal: a JSON body's `message` (or `error_description`, `error`), else its text. */
async function verifierMessage(response: Response): Promise<string> {
  const text = (await response.text()).trim();
  let message = text;
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const said = [body.message, body.error_description, body.error].find((value) => typeof value === "string" && value.length > 0);
    if (typeof said === "string") message = said;
  } catch {
    // Not JSON: the text is the message.
  }
  return message.slice(0, MAX_MESSAGE_LENGTH) || response.statusText || `HTTP ${response.status}`;
}

/**
 * An integration linked with credentials the SMB enters (on the link page,
 * or a client sends through update-connection-authorization): Hookline POSTs
 * them as JSON to the operator's verification URL, through the SSRF policy,
 * and the verifier's answer decides. 2xx links; 401 and 403 are the
 * verifier's refusal with its message; any other status, a timeout (504) or
 * an unreachable verifier (502) fails the attempt with that status.
 */
export function credentialsProvider(settings: CredentialsSettings, guard: OutboundGuard): IntegrationProvider {
  const send = guardedFetch(guard, settings.timeoutMs);
  const failure = (statusCode: number, statusText: string, errorMessage: string): LinkOutcome => ({
    linked: false,
    statusCode: String(statusCode),
    statusText,
    errorMessage,
  });
  return {
    ...providerIdentity("credentials", settings),
    startLink: () => ({ kind: "credentials", fields: settings.fields }),
    completeLink() {
      return Promise.reject(badRequest(`${settings.name} links with credentials: send them with PUT .../authorization or on the connection's linkUrl`));
    },
    async acceptCredentials(connection, sent): Promise<LinkOutcome> {
      const credentials = credentialsOf(settings, sent);
      let response: Response;
      try {
        response = (await send(settings.verifyUrl, {
          method: "POST",
          redirect: "manual",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({ platformKey: settings.key, companyId: connection.companyId, connectionId: connection.connectionId, credentials }),
        })) as Response;
      } catch (error) {
        return { linked: false, ...tokenEndpointFailure(error, settings, "verification URL") };
      }
      if (response.ok) {
        await response.body?.cancel();
        return settings.keepCredentials ? { linked: true, credentials } : { linked: true };
      }
      if (response.status === 401 || response.status === 403) {
        return failure(response.status, response.statusText || (response.status === 401 ? "Unauthorized" : "Forbidden"), await verifierMessage(response));
      }
      await response.body?.cancel();
      return failure(response.status, response.statusText || `HTTP ${response.status}`, `${settings.name}'s verification URL answered HTTP ${response.status}`);
    },
    refresh: notApplicable("credentials do not lapse on a schedule Hookline knows"),
    revoke: notApplicable("the operator's verifier has no way to withdraw credentials"),
  };
}
