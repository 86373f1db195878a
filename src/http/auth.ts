import type { FastifyReply, FastifyRequest } from "fastify";
import { authenticate, type Client } from "../domain/clients.ts";
import type { AppContext } from "../domain/context.ts";
import { unauthorized } from "../errors.ts";

declare module "fastify" {
  interface FastifyRequest {
    client: Client;
  }
}

/**
 * Codat's authentication: `Authorization: Basic <base64 of the API key>`.
 * The decoded key is looked up by its hash; a missing, malformed or revoked
 * key is a 401 that never echoes what was sent.
 */
export function apiKeyAuth(ctx: AppContext) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const match = /^Basic\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "");
    if (!match) throw unauthorized("missing");
    const apiKey = Buffer.from(match[1]!, "base64").toString("utf8");
    const client = apiKey === "" ? undefined : await authenticate(ctx, apiKey);
    if (!client) throw unauthorized("unknown");
    request.client = client;
  };
}
