import type { FastifyInstance } from "fastify";
import type { DomainContext } from "../../domain/context.ts";
import { listCustomHeaders, removeCustomHeader, setCustomHeaders, type CustomHeaders } from "../../domain/consumer-headers.ts";
import { removeClientCertificate, setClientCertificate, type ClientCertificateInput } from "../../domain/consumer-mtls.ts";
import {
  createConsumer,
  deleteConsumer,
  getConsumer,
  getSigningSecret,
  listConsumers,
  rotateSigningSecret,
  setConsumerEnabled,
  updateConsumer,
  type ConsumerInput,
  type ConsumerUpdate,
} from "../../domain/consumers.ts";
import { badRequest } from "../../errors.ts";
import { clientCertificateBody, consumerUpdateBody, customHeadersBody } from "../../openapi/hookline/consumers.ts";
import { pathParams, requestBody } from "../schemas.ts";

type ConsumerParams = { webhookId: string };
const consumerParams = { params: pathParams("webhookId") };

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

  app.get<{ Params: ConsumerParams }>("/webhooks/:webhookId", { schema: consumerParams }, (request) =>
    getConsumer(ctx, request.client.id, request.params.webhookId),
  );

  app.patch<{ Params: ConsumerParams; Body: ConsumerUpdate }>("/webhooks/:webhookId", { schema: { ...consumerParams, body: consumerUpdateBody } }, (request) =>
    updateConsumer(ctx, request.client.id, request.params.webhookId, request.body),
  );

  for (const [action, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    app.post<{ Params: ConsumerParams }>(`/webhooks/:webhookId/${action}`, { schema: consumerParams }, (request) =>
      setConsumerEnabled(ctx, request.client.id, request.params.webhookId, enabled),
    );
  }

  app.get<{ Params: ConsumerParams }>("/webhooks/:webhookId/secret", { schema: consumerParams }, (request) =>
    getSigningSecret(ctx, request.client.id, request.params.webhookId),
  );

  app.post<{ Params: ConsumerParams }>("/webhooks/:webhookId/secret/rotate", { schema: consumerParams }, (request) =>
    rotateSigningSecret(ctx, request.client.id, request.params.webhookId),
  );

  app.get<{ Params: ConsumerParams }>("/webhooks/:webhookId/headers", { schema: consumerParams }, (request) =>
    listCustomHeaders(ctx, request.client.id, request.params.webhookId),
  );

  for (const [method, mode] of [
    ["PUT", "replace"],
    ["PATCH", "merge"],
  ] as const) {
    app.route<{ Params: ConsumerParams; Body: { headers: CustomHeaders } }>({
      method,
      url: "/webhooks/:webhookId/headers",
      schema: { ...consumerParams, body: customHeadersBody },
      handler: (request) => setCustomHeaders(ctx, request.client.id, request.params.webhookId, request.body.headers, mode),
    });
  }

  app.delete<{ Params: ConsumerParams & { headerName: string } }>(
    "/webhooks/:webhookId/headers/:headerName",
    { schema: { params: { allOf: [pathParams("webhookId"), { type: "object", properties: { headerName: { type: "string" } }, required: ["headerName"] }] } } },
    async (request, reply) => {
      await removeCustomHeader(ctx, request.client.id, request.params.webhookId, request.params.headerName);
      return reply.status(204).send();
    },
  );

  app.put<{ Params: ConsumerParams; Body: ClientCertificateInput }>(
    "/webhooks/:webhookId/mtls",
    { schema: { ...consumerParams, body: clientCertificateBody } },
    (request) => setClientCertificate(ctx, request.client.id, request.params.webhookId, request.body),
  );

  app.delete<{ Params: ConsumerParams }>("/webhooks/:webhookId/mtls", { schema: consumerParams }, async (request, reply) => {
    await removeClientCertificate(ctx, request.client.id, request.params.webhookId);
    return reply.status(204).send();
  });

  app.delete<{ Params: ConsumerParams }>("/webhooks/:webhookId", { schema: consumerParams }, async (request, reply) => {
    await deleteConsumer(ctx, request.client.id, request.params.webhookId);
    return reply.status(204).send();
  });
}
