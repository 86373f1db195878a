import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  deleteTransformation,
  getTransformation,
  setTransformation,
  testTransformation,
  type TransformationInput,
  type TransformationTestInput,
} from "../../domain/consumer-transformation.ts";
import type { AppContext } from "../../domain/context.ts";
import { asId, type ClientId, type ConsumerId } from "../../ids.ts";
import { transformationBody, transformationTestBody } from "../../openapi/hookline/transformations.ts";
import { pathParams } from "../schemas.ts";

type ConsumerParams = { webhookId: string };
const consumerParams = { params: pathParams("webhookId") };

const clientOf = (request: FastifyRequest) => asId<ClientId>(request.client.id);
const consumerOf = (request: FastifyRequest<{ Params: ConsumerParams }>) => asId<ConsumerId>(request.params.webhookId);

/** A consumer's transformation: GET, PUT, DELETE, and a test run. */
export function transformationRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: ConsumerParams }>("/webhooks/:webhookId/transformation", { schema: consumerParams }, (request) =>
    getTransformation(ctx, clientOf(request), consumerOf(request)),
  );

  app.put<{ Params: ConsumerParams; Body: TransformationInput }>(
    "/webhooks/:webhookId/transformation",
    { schema: { ...consumerParams, body: transformationBody } },
    (request) => setTransformation(ctx, clientOf(request), consumerOf(request), request.body),
  );

  app.delete<{ Params: ConsumerParams }>("/webhooks/:webhookId/transformation", { schema: consumerParams }, async (request, reply) => {
    await deleteTransformation(ctx, clientOf(request), consumerOf(request));
    return reply.status(204).send();
  });

  app.post<{ Params: ConsumerParams; Body: TransformationTestInput }>(
    "/webhooks/:webhookId/transformation/test",
    { schema: { ...consumerParams, body: transformationTestBody } },
    (request) => testTransformation(ctx, clientOf(request), consumerOf(request), request.body),
  );
}
