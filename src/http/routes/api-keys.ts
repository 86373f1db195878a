import type { FastifyInstance } from "fastify";
import { createApiKey, deleteApiKey, listApiKeys } from "../../domain/clients.ts";
import type { AppContext } from "../../domain/context.ts";
import { asId, type ApiKeyId } from "../../ids.ts";
import { requestBody } from "../schemas.ts";

export function apiKeyRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get("/apiKeys", async (request) => ({ results: await listApiKeys(ctx, request.client.id) }));

  app.post<{ Body: { name?: string | null } | undefined }>(
    "/apiKeys",
    {
      schema: { body: requestBody("/components/schemas/CreateApiKey") },
      // The document leaves this body optional: a POST without one makes an unnamed key rather than failing validation.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
    },
    async (request, reply) => reply.status(201).send(await createApiKey(ctx, request.client.id, request.body?.name ?? null)),
  );

  app.delete<{ Params: { apiKeyId: string } }>(
    "/apiKeys/:apiKeyId",
    { schema: { params: { type: "object", properties: { apiKeyId: { type: "string", format: "uuid" } }, required: ["apiKeyId"] } } },
    async (request, reply) => {
      await deleteApiKey(ctx, request.client.id, asId<ApiKeyId>(request.params.apiKeyId));
      return reply.status(204).send();
    },
  );
}
