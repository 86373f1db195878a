import type { FastifyInstance } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import { createAccessLink, type AccessLinkRequest } from "../../domain/portal-access.ts";
import { asId, type ClientId } from "../../ids.ts";
import { accessLinkBody } from "../../openapi/hookline/portal.ts";

/** POST /portal/access: a short-lived, single-use URL that opens the portal for the calling client, to embed in its own product. */
export function portalAccessRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Body: AccessLinkRequest | undefined }>(
    "/portal/access",
    {
      schema: { body: accessLinkBody },
      // Every field is optional, so is the body: no body opens the whole portal, changes allowed.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
    },
    async (request, reply) => reply.status(201).send(await createAccessLink(ctx, asId<ClientId>(request.client.id), request.body ?? {})),
  );
}
