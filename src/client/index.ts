import createClient, { type Client, type ClientOptions } from "openapi-fetch";
// ".js" rather than ".ts": the declarations users' TypeScript reads keep the specifier, and dist/ has schema.d.ts.
import type { components, paths, webhooks } from "./schema.js";

export type { components, paths, webhooks };

/** A client of Hookline's API, typed by its OpenAPI document: every path, parameter, body and answer. */
export type HooklineClient = Client<paths>;

export interface HooklineClientOptions extends Omit<ClientOptions, "baseUrl" | "headers"> {
  /** Where the server answers, e.g. `http://127.0.0.1:8080` (its HOOKLINE_PUBLIC_URL). */
  baseUrl: string;
  /** An API key: sent as `Authorization: Basic <base64 of the key>`, as Hookline and Codat expect. */
  apiKey: string;
}

/**
 * A typed client of Hookline's API (openapi-fetch over the types generated
 * from the served document): `client.POST("/webhooks/{webhookId}/retry-now",
 * { params: { path: { webhookId } } })` answers `{ data }` or `{ error }` in
 * Codat's ErrorMessage shape.
 */
export function createHooklineClient({ baseUrl, apiKey, ...options }: HooklineClientOptions): HooklineClient {
  return createClient<paths>({
    ...options,
    baseUrl: baseUrl.replace(/\/+$/, ""),
    headers: { authorization: `Basic ${Buffer.from(apiKey).toString("base64")}` },
  });
}
