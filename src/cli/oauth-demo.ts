import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { createHooklineClient } from "../client/index.ts";
import { loadConfig } from "../config.ts";
import { createApiKey, createClient } from "../domain/clients.ts";
import { createOperatorToken } from "../domain/operator-api.ts";
import { SecretBox } from "../secret-box.ts";
import { startHookline } from "../server.ts";
import { answered, freePort } from "./demo.ts";

/** The local authorization server's one client: Hookline. */
const CLIENT_ID = "hookline-demo";
const CLIENT_SECRET = randomBytes(24).toString("base64url");

/**
 * oidc-provider is a development dependency (the tests' authorization
 * server): an installed package does not have it, so this demo runs from a
 * clone of the repository. Imported by name at run time so that the rest of
 * the CLI never needs it.
 */
async function loadProvider(): Promise<new (issuer: string, configuration: Record<string, unknown>) => { callback(): RequestListener }> {
  const name = "oidc-provider";
  try {
    return ((await import(name)) as { default: new (issuer: string, configuration: Record<string, unknown>) => { callback(): RequestListener } }).default;
  } catch {
    throw new Error(
      "The OAuth demo needs oidc-provider, a development dependency: run it from a clone of the repository (npm install, then npm run demo -- --oauth)",
    );
  }
}

/** A real OAuth 2.0 authorization server on loopback: its own sign-in (any login and password) and consent pages. */
async function startLocalProvider(redirectUri: string): Promise<{ issuer: string; close(): void }> {
  const Provider = await loadProvider();
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
      },
    ],
    pkce: { required: () => true },
    scopes: ["openid", "offline_access"],
    findAccount: async (_ctx: unknown, accountId: string) => ({ accountId, claims: async () => ({ sub: accountId }) }),
  });
  server.on("request", provider.callback());
  return {
    issuer,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * The OAuth 2.0 demo (`npm run demo -- --oauth`): a local authorization
 * server, Hookline configured with an OAuth integration for it, and a local
 * receiver. The person running it links the connection in a browser; the
 * receiver gets connection.connected; the demo then reports the access
 * revoked through the operator API, and the receiver gets
 * connection.disconnected. Both webhooks are printed, verified.
 */
export async function runOAuthDemo(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), "hookline-oauth-demo-"));
  const arrivals: Array<{ headers: IncomingMessage["headers"]; body: string }> = [];
  let arrived = () => {};
  const receiver = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    response.writeHead(204).end();
    arrivals.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
    arrived();
  }).listen(0, "127.0.0.1");
  await once(receiver, "listening");
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks`;
  /** Resolves once the receiver holds `count` webhooks. */
  const received = (count: number) =>
    new Promise<void>((resolve) => {
      arrived = () => {
        if (arrivals.length >= count) resolve();
      };
      arrived();
    });

  const port = await freePort();
  const provider = await startLocalProvider(`http://127.0.0.1:${port}/link/oauth/callback`);
  const encryptionKey = randomBytes(32).toString("base64");
  const integrationsFile = join(directory, "integrations.json");
  const oauth2 = {
    authorizeUrl: `${provider.issuer}/auth`,
    tokenUrl: `${provider.issuer}/token`,
    issuer: provider.issuer,
    clientId: CLIENT_ID,
    clientSecret: new SecretBox([encryptionKey]).seal(CLIENT_SECRET, "integration-client-secret", "demo"),
    scopes: ["openid", "offline_access"],
    authorizeParams: { prompt: "consent" },
  };
  writeFileSync(
    integrationsFile,
    JSON.stringify({ integrations: [{ platformKey: "demo", name: "Demo Books", sourceType: "Accounting", kind: "oauth2", oauth2 }] }),
  );
  const config = loadConfig(
    {},
    {
      databaseUrl: `sqlite:${join(directory, "demo.db")}`,
      port: String(port),
      allowedCidrs: "127.0.0.0/8",
      logLevel: "warn",
      encryptionKey,
      integrationsFile,
    },
  );
  const hookline = await startHookline(config);
  try {
    const client = await createClient(hookline.ctx, "Demo lender");
    const { apiKey } = await createApiKey(hookline.ctx, client.id, "demo");
    const api = createHooklineClient({ baseUrl: config.publicUrl, apiKey });
    const consumer = answered(
      "POST /webhooks",
      await api.POST("/webhooks", { body: { url: receiverUrl, eventTypes: ["connection.connected", "connection.disconnected"] } }),
    );
    const { key } = answered(
      "GET /webhooks/{webhookId}/secret",
      await api.GET("/webhooks/{webhookId}/secret", { params: { path: { webhookId: consumer.id! } } }),
    );
    console.log(`1. A local OAuth 2.0 provider runs at ${provider.issuer}; Hookline offers it as the integration "demo" (Demo Books)`);
    console.log(`2. Subscribed ${receiverUrl} to connection.connected and connection.disconnected`);
    const company = answered("POST /companies", await api.POST("/companies", { body: { name: "Toft stores" } }));
    const connection = answered(
      "POST /companies/{companyId}/connections",
      await api.POST("/companies/{companyId}/connections", { params: { path: { companyId: company.id } }, body: { platformKey: "demo" } }),
    );
    console.log("3. Open this link in your browser, press Continue, sign in with any login and password, then press Continue again:");
    console.log(`   ${connection.linkUrl}`);

    const printVerified = (webhook: { headers: IncomingMessage["headers"]; body: string }) => {
      const event = new Webhook(key!).verify(webhook.body, {
        "webhook-id": String(webhook.headers["webhook-id"]),
        "webhook-timestamp": String(webhook.headers["webhook-timestamp"]),
        "webhook-signature": String(webhook.headers["webhook-signature"]),
      }) as { eventType: string };
      console.log(`   ${event.eventType}, signature verified:`);
      console.log(JSON.stringify(event, null, 2));
    };
    await received(1);
    console.log("4. The customer linked at the provider; the receiver got:");
    printVerified(arrivals[0]!);

    // The operator's data engine finds the access revoked at the source and says so through the operator API.
    const { token } = await createOperatorToken(hookline.ctx, "demo data engine");
    const response = await fetch(`${config.publicUrl}/operator/companies/${company.id}/connections/${connection.id}/deauthorize`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ statusCode: "401", statusText: "Unauthorized", message: "Access revoked at Demo Books" }),
    });
    if (!response.ok) throw new Error(`The operator API answered ${response.status}: ${await response.text()}`);
    console.log("5. The data engine reported the access revoked (POST /operator/.../deauthorize); the receiver got:");
    await received(2);
    printVerified(arrivals[1]!);
    console.log("   The connection is Deauthorized: opening its link again and signing in reconnects it (connection.reconnected).");
  } finally {
    await hookline.close();
    provider.close();
    receiver.close();
    rmSync(directory, { recursive: true, force: true });
  }
}
