import * as client from "openid-client";
import { badRequest } from "../../errors.ts";
import {
  notApplicable,
  providerIdentity,
  type AccessGrant,
  type IntegrationIdentity,
  type IntegrationProvider,
  type LinkFailure,
  type LinkOutcome,
  type RefreshOutcome,
} from "../provider.ts";
import { guardedFetch, type OutboundGuard } from "./guarded-fetch.ts";

/** An OAuth 2.0 integration as the operator declared it, its client secret opened. */
export interface OAuth2Settings extends IntegrationIdentity {
  authorizeUrl: string;
  tokenUrl: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  tokenAuthMethod: "client_secret_basic" | "client_secret_post";
  scopes: string[];
  authorizeParams: Record<string, string>;
  timeoutMs: number;
}

/** The provider's `error=` on the callback, or its error body from the token endpoint, as a connection error. */
function providerRefusal(statusCode: string, error: { error: string; error_description?: string | undefined }): LinkFailure {
  return { statusCode, statusText: error.error, errorMessage: error.error_description || error.error };
}

/** The codes of an error and of the errors that caused it, outermost first. */
function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let at: unknown = error; at instanceof Error || at instanceof DOMException; at = (at as { cause?: unknown }).cause) {
    // A DOMException's code is a legacy number; its name (TimeoutError, AbortError) says what happened.
    const code = at instanceof DOMException ? at.name : (at as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
    if (codes.length > 8) break;
  }
  return codes;
}

/**
 * What a failed call to the token endpoint comes to: the provider's own
 * status and error when it answered as OAuth says, its bare HTTP status when
 * it answered otherwise, 504 when it did not answer in time and 502 when it
 * could not be reached (refused, unresolvable, or refused by the SSRF policy).
 */
export function tokenEndpointFailure(error: unknown, settings: Pick<OAuth2Settings, "name" | "timeoutMs">, endpoint = "token endpoint"): LinkFailure {
  if (error instanceof client.ResponseBodyError) return providerRefusal(String(error.status), error);
  // A 401 with a WWW-Authenticate challenge (a client secret the provider does not take): the challenge carries the error.
  if (error instanceof client.WWWAuthenticateChallengeError) {
    const parameters = error.cause[0]?.parameters;
    return providerRefusal(String(error.status), { error: parameters?.error ?? "invalid_client", error_description: parameters?.error_description });
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Response) {
    return {
      statusCode: String(cause.status),
      statusText: cause.statusText || `HTTP ${cause.status}`,
      errorMessage: `${settings.name}'s ${endpoint} answered HTTP ${cause.status} without an OAuth error`,
    };
  }
  const codes = causeCodes(error);
  if (codes.includes("OAUTH_TIMEOUT") || codes.includes("TimeoutError") || codes.includes("UND_ERR_CONNECT_TIMEOUT")) {
    return {
      statusCode: "504",
      statusText: "Gateway Timeout",
      errorMessage: `${settings.name}'s ${endpoint} did not answer within ${settings.timeoutMs} ms`,
    };
  }
  const reason = codes.includes("EDESTINATIONREFUSED")
    ? "the address is not allowed (private, loopback or unresolvable; see HOOKLINE_ALLOWED_CIDRS)"
    : codes.includes("ECONNREFUSED")
      ? "connection refused"
      : (codes.find((code) => code.startsWith("E") || code.startsWith("UND_")) ?? (error instanceof Error ? error.message : "unknown error"));
  return { statusCode: "502", statusText: "Bad Gateway", errorMessage: `Could not reach ${settings.name}'s ${endpoint}: ${reason}` };
}

function accessOf(tokens: client.TokenEndpointResponse, now: number, previousRefreshToken: string | null): AccessGrant {
  return {
    accessToken: tokens.access_token,
    // A provider that does not rotate refresh tokens answers a refresh without one: the one it had still holds.
    refreshToken: tokens.refresh_token ?? previousRefreshToken,
    expiresAt: typeof tokens.expires_in === "number" ? now + tokens.expires_in * 1000 : null,
  };
}

/**
 * An integration linked with OAuth 2.0's authorization code grant, with PKCE
 * (S256) and `state`, through openid-client: the link page sends the SMB to
 * the provider's authorize URL, Hookline's callback exchanges the code for
 * tokens, and the refresh job renews them with the refresh token.
 */
export function oauth2Provider(settings: OAuth2Settings, guard: OutboundGuard, now: () => number): IntegrationProvider {
  const server = { issuer: settings.issuer, authorization_endpoint: settings.authorizeUrl, token_endpoint: settings.tokenUrl };
  const authentication =
    settings.tokenAuthMethod === "client_secret_post" ? client.ClientSecretPost(settings.clientSecret) : client.ClientSecretBasic(settings.clientSecret);
  const config = new client.Configuration(server, settings.clientId, undefined, authentication);
  config[client.customFetch] = guardedFetch(guard, settings.timeoutMs);
  // The operator chose the URLs; plain HTTP is theirs to allow (a provider on the same host, or a test's).
  if (settings.tokenUrl.startsWith("http:") || settings.authorizeUrl.startsWith("http:")) client.allowInsecureRequests(config);

  return {
    ...providerIdentity("oauth2", settings),
    startLink: () => ({
      kind: "redirect",
      async authorize(redirectUri) {
        const codeVerifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const url = client.buildAuthorizationUrl(config, {
          ...settings.authorizeParams,
          redirect_uri: redirectUri,
          ...(settings.scopes.length > 0 && { scope: settings.scopes.join(" ") }),
          state,
          code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
          code_challenge_method: "S256",
        });
        return { url: url.href, state, codeVerifier };
      },
    }),
    async completeLink(_connection, callback): Promise<LinkOutcome> {
      if (callback.kind !== "redirect") throw badRequest(`${settings.name} links through its own sign-in: open the connection's linkUrl`);
      const error = callback.callbackUrl.searchParams.get("error");
      if (error === "access_denied") return { linked: false, statusCode: "403", statusText: "User cancelled linking", errorMessage: "User cancelled" };
      if (error !== null) {
        return {
          linked: false,
          ...providerRefusal("400", { error, error_description: callback.callbackUrl.searchParams.get("error_description") ?? undefined }),
        };
      }
      try {
        const tokens = await client.authorizationCodeGrant(config, callback.callbackUrl, {
          pkceCodeVerifier: callback.codeVerifier,
          expectedState: callback.state,
          idTokenExpected: false,
        });
        return { linked: true, access: accessOf(tokens, now(), null) };
      } catch (failure) {
        return { linked: false, ...tokenEndpointFailure(failure, settings) };
      }
    },
    acceptCredentials() {
      return Promise.reject(badRequest(`${settings.name} links through its own sign-in, not with credentials: send the customer to the connection's linkUrl`));
    },
    async refresh(refreshToken): Promise<RefreshOutcome> {
      try {
        return { kind: "refreshed", access: accessOf(await client.refreshTokenGrant(config, refreshToken), now(), refreshToken) };
      } catch (failure) {
        const reason = tokenEndpointFailure(failure, settings);
        // invalid_grant: the refresh token was revoked or has expired; nothing but the customer linking again restores access.
        return failure instanceof client.ResponseBodyError && failure.error === "invalid_grant"
          ? { kind: "revoked", ...reason }
          : { kind: "failed", ...reason };
      }
    },
    revoke: notApplicable("the provider's tokens are left to lapse; revocation endpoints are not part of the integration's settings"),
  };
}
