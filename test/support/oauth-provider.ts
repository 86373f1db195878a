import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface OAuthServer {
  issuer: string;
  authorizeUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Checks an access token the way a resource server would: true when the provider still honours it. */
  accepts(accessToken: string): Promise<boolean>;
  /** Revokes a refresh token at the provider, as the customer does by removing the app's access there. */
  revoke(refreshToken: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real OAuth 2.0 authorization server (oidc-provider) on loopback: one
 * confidential client whose redirect URI is Hookline's callback, PKCE
 * required, its own sign-in and consent pages (any login and password sign
 * in), short-lived access tokens and refresh tokens that do not rotate.
 */
export async function startOAuthServer(redirectUri: string, accessTokenTtlSeconds = 60): Promise<OAuthServer> {
  const server: Server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = "hookline";
  const clientSecret = "a-client-secret-of-at-least-32-characters";
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    pkce: { required: () => true },
    scopes: ["openid", "offline_access"],
    ttl: { AccessToken: accessTokenTtlSeconds, RefreshToken: 3600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 3600 },
    rotateRefreshToken: false,
    features: { revocation: { enabled: true }, introspection: { enabled: true } },
    findAccount: async (_ctx: unknown, accountId: string) => ({ accountId, claims: async () => ({ sub: accountId }) }),
  });
  server.on("request", provider.callback());
  const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`;
  const form = (body: Record<string, string>) => ({
    method: "POST",
    headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(body).toString(),
  });
  return {
    issuer,
    authorizeUrl: `${issuer}/auth`,
    tokenUrl: `${issuer}/token`,
    clientId,
    clientSecret,
    async accepts(accessToken) {
      const answer = (await (await fetch(`${issuer}/token/introspection`, form({ token: accessToken }))).json()) as { active: boolean };
      return answer.active;
    },
    async revoke(refreshToken) {
      const response = await fetch(`${issuer}/token/revocation`, form({ token: refreshToken, token_type_hint: "refresh_token" }));
      if (!response.ok) throw new Error(`revocation answered ${response.status}`);
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
