import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import type { TestContext } from "node:test";
import { CodatPlatform } from "@codat/platform";
import { loadConfig, type Config, type ConfigOverrides } from "../../src/config.ts";
import { createApiKey, createClient } from "../../src/domain/clients.ts";
import { startHookline, type Hookline } from "../../src/server.ts";
import { createTestDatabase, encryptionKeyFor, type TestDatabase } from "./database.ts";

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export const basicAuth = (apiKey: string) => `Basic ${Buffer.from(apiKey).toString("base64")}`;

/** A client of the running server: its id, an API key, and ways to call the API. */
export interface TestClient {
  clientId: string;
  apiKey: string;
  api<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  sdk: CodatPlatform;
}

export interface TestServer extends TestClient {
  hookline: Hookline;
  baseUrl: string;
  database: TestDatabase;
  /** Everything the server logged, as JSON lines. */
  logs(): string;
  addClient(name: string): Promise<TestClient>;
  close(): Promise<void>;
}

/**
 * The configuration of a test process on `databaseUrl`: loopback receivers allowed, a short idle poll, queue
 * gauges read at every scrape, the PostgreSQL encryption key.
 */
export function testConfig(databaseUrl: string, overrides: ConfigOverrides = {}): Config {
  const encryptionKey = encryptionKeyFor(databaseUrl);
  return loadConfig(
    {},
    {
      databaseUrl,
      allowedCidrs: "127.0.0.0/8,::1/128",
      workerIdlePoll: "200ms",
      metricsQueueRefresh: "0",
      ...(encryptionKey && { encryptionKey }),
      ...overrides,
    },
  );
}

/**
 * A real Hookline (API and worker) on a fresh database and a loopback port,
 * allowed to deliver to loopback receivers, with a client and API key ready.
 */
export async function startTestServer(overrides: ConfigOverrides = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const port = await freePort();
  const config = testConfig(database.url, { port: String(port), ...overrides });
  const logStream = new PassThrough();
  let logText = "";
  logStream.on("data", (chunk: Buffer) => (logText += chunk.toString("utf8")));
  const hookline = await startHookline({ ...config, logLevel: "debug" }, { logDestination: logStream });
  const baseUrl = config.publicUrl;

  const clientFor = async (name: string): Promise<TestClient> => {
    const client = await createClient(hookline.ctx, name);
    const { apiKey } = await createApiKey(hookline.ctx, client.id, "test");
    return {
      clientId: client.id,
      apiKey,
      api: (method, path, body) => callApi(baseUrl, apiKey, method, path, body),
      sdk: new CodatPlatform({ serverURL: baseUrl, authHeader: basicAuth(apiKey), retryConfig: { strategy: "none" } }),
    };
  };
  const first = await clientFor("Test client");
  return {
    ...first,
    hookline,
    baseUrl,
    database,
    logs: () => logText,
    addClient: clientFor,
    async close() {
      await hookline.close();
      await database.drop();
    },
  };
}

/** A test server for one test, closed (and its database dropped) when the test ends. */
export async function withServer(t: TestContext, overrides: ConfigOverrides = {}): Promise<TestServer> {
  const server = await startTestServer(overrides);
  t.after(() => server.close());
  return server;
}

export async function callApi<T = any>(baseUrl: string, apiKey: string | null, method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  if (apiKey !== null) headers.authorization = basicAuth(apiKey);
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text), headers: response.headers };
}
