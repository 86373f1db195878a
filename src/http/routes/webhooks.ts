import type { FastifyInstance } from "fastify";
import type { DomainContext } from "../../domain/context.ts";
import { createConsumer, deleteConsumer, getConsumer, getSigningSecret, listConsumers, type ConsumerInput } from "../../domain/consumers.ts";
import { badRequest } from "../../errors.ts";
import { pathParams, requestBody } from "../schemas.ts";

type ConsumerParams = { webhookId: string };

export function webhookRoutes(app: FastifyInstance, ctx: DomainContext): void {
  app.get("/webhooks", (request) => listConsumers(ctx, request.client.id));

  app.post<{ Body: Partial<ConsumerInput> }>(
    "/webhooks",
    { schema: { body: requestBody("/components/schemas/WebhookConsumer/definitions/webhookConsumerPrototype") } },
    async (request, reply) => {
      const { url, eventTypes } = request.body;
      if (!url) throw badRequest("url is required", [{ itemId: "url", message: "Required", validatorName: "required" }]);
      if (!eventTypes) throw badRequest("eventTypes is required", [{ itemId: "eventTypes", message: "Required", validatorName: "required" }]);
      return reply.status(201).send(await createConsumer(ctx, request.client.id, { ...request.body, url, eventTypes }));
    },
  );

  app.get<{ Params: ConsumerParams }>("/webhooks/:webhookId", { schema: { params: pathParams("webhookId") } }, (request) =>
    getConsumer(ctx, request.client.id, request.params.webhookId),
  );

  app.get<{ Params: ConsumerParams }>("/webhooks/:webhookId/secret", { schema: { params: pathParams("webhookId") } }, (request) =>
    getSigningSecret(ctx, request.client.id, request.params.webhookId),
  );

  app.delete<{ Params: ConsumerParams }>("/webhooks/:webhookId", { schema: { params: pathParams("webhookId") } }, async (request, reply) => {
    await deleteConsumer(ctx, request.client.id, request.params.webhookId);
    return reply.status(204).send();
  });
}
