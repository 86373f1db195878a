import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import { listCustomHeaders, removeCustomHeader, setCustomHeaders } from "../../domain/consumer-headers.ts";
import { removeClientCertificate, setClientCertificate, type ClientCertificateInput } from "../../domain/consumer-mtls.ts";
import {
  createConsumer,
  deleteConsumer,
  getConsumer,
  getConsumerHistory,
  getSigningSecret,
  listConsumers,
  rotateSigningSecret,
  setConsumerEnabled,
  updateConsumer,
  type ConsumerInput,
  type ConsumerUpdate,
} from "../../domain/consumers.ts";
import type { CustomHeaders } from "../../domain/custom-header-rules.ts";
import {
  contractMigration,
  expandMigration,
  migrationCandidates,
  migrationReport,
  revertMigration,
  switchMigration,
  type ExpandInput,
} from "../../domain/legacy-migration.ts";
import type { TimeRangeInput } from "../../domain/time-range.ts";
import { badRequest } from "../../errors.ts";
import { asId, type ClientId, type ConsumerId } from "../../ids.ts";
import { clientCertificateBody, consumerUpdateBody, customHeadersBody } from "../../openapi/hookline/consumers.ts";
import { expandBody, reportQuery } from "../../openapi/hookline/migration.ts";
import { pathParams, requestBody } from "../schemas.ts";

type ConsumerParams = { webhookId: string };
const consumerParams = { params: pathParams("webhookId") };

const clientOf = (request: FastifyRequest) => asId<ClientId>(request.client.id);
const consumerOf = (request: FastifyRequest<{ Params: ConsumerParams }>) => asId<ConsumerId>(request.params.webhookId);

export function webhookRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get("/webhooks", (request) => listConsumers(ctx, clientOf(request)));

  app.post<{ Body: Partial<ConsumerInput> }>(
    "/webhooks",
    { schema: { body: requestBody("/components/schemas/WebhookConsumer/definitions/webhookConsumerPrototype") } },
    async (request, reply) => {
      const { url, eventTypes } = request.body;
      if (!url) throw badRequest("url is required", [{ itemId: "url", message: "Required", validatorName: "required" }]);
      if (!eventTypes) throw badRequest("eventTypes is required", [{ itemId: "eventTypes", message: "Required", validatorName: "required" }]);
      return reply.status(201).send(await createConsumer(ctx, clientOf(request), { ...request.body, url, eventTypes }));
    },
  );

  app.get("/webhooks/migration", (request) => migrationCandidates(ctx, clientOf(request)));

  app.post<{ Params: ConsumerParams; Body: ExpandInput | undefined }>(
    "/webhooks/migration/:webhookId/expand",
    { schema: { ...consumerParams, body: expandBody } },
    async (request, reply) => reply.status(201).send(await expandMigration(ctx, clientOf(request), consumerOf(request), request.body ?? {})),
  );

  app.get<{ Params: ConsumerParams; Querystring: TimeRangeInput }>(
    "/webhooks/migration/:webhookId/report",
    { schema: { ...consumerParams, querystring: reportQuery } },
    (request) => migrationReport(ctx, clientOf(request), consumerOf(request), request.query),
  );

  for (const [step, run] of [
    ["switch", switchMigration],
    ["revert", revertMigration],
    ["contract", contractMigration],
  ] as const) {
    app.post<{ Params: ConsumerParams }>(`/webhooks/migration/:webhookId/${step}`, { schema: consumerParams }, (request) =>
      run(ctx, clientOf(request), consumerOf(request)),
    );
  }

  app.get<{ Params: ConsumerParams }>("/webhooks/:webhookId/history", { schema: consumerParams }, (request) =>
    getConsumerHistory(ctx, clientOf(request), consumerOf(request)),
  );

  app.get<{ Params: ConsumerParams }>("/webhooks/:webhookId", { schema: consumerParams }, (request) =>
    getConsumer(ctx, clientOf(request), consumerOf(request)),
  );

  app.patch<{ Params: ConsumerParams; Body: ConsumerUpdate }>("/webhooks/:webhookId", { schema: { ...consumerParams, body: consumerUpdateBody } }, (request) =>
    updateConsumer(ctx, clientOf(request), consumerOf(request), request.body),
  );

  for (const [action, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    app.post<{ Params: ConsumerParams }>(`/webhooks/:webhookId/${action}`, { schema: consumerParams }, (request) =>
      setConsumerEnabled(ctx, clientOf(request), consumerOf(request), enabled),
    );
  }

  app.get<{ Params: ConsumerParams }>("/webhooks/:webhookId/secret", { schema: consumerParams }, (request) =>
    getSigningSecret(ctx, clientOf(request), consumerOf(request)),
  );

  app.post<{ Params: ConsumerParams }>("/webhooks/:webhookId/secret/rotate", { schema: consumerParams }, (request) =>
    rotateSigningSecret(ctx, clientOf(request), consumerOf(request)),
  );

  app.get<{ Params: ConsumerParams }>("/webhooks/:webhookId/headers", { schema: consumerParams }, (request) =>
    listCustomHeaders(ctx, clientOf(request), consumerOf(request)),
  );

  for (const [method, mode] of [
    ["PUT", "replace"],
    ["PATCH", "merge"],
  ] as const) {
    app.route<{ Params: ConsumerParams; Body: { headers: CustomHeaders } }>({
      method,
      url: "/webhooks/:webhookId/headers",
      schema: { ...consumerParams, body: customHeadersBody },
      handler: (request) => setCustomHeaders(ctx, clientOf(request), consumerOf(request), request.body.headers, mode),
    });
  }

  app.delete<{ Params: ConsumerParams & { headerName: string } }>(
    "/webhooks/:webhookId/headers/:headerName",
    { schema: { params: { allOf: [pathParams("webhookId"), { type: "object", properties: { headerName: { type: "string" } }, required: ["headerName"] }] } } },
    async (request, reply) => {
      await removeCustomHeader(ctx, clientOf(request), consumerOf(request), request.params.headerName);
      return reply.status(204).send();
    },
  );

  app.put<{ Params: ConsumerParams; Body: ClientCertificateInput }>(
    "/webhooks/:webhookId/mtls",
    { schema: { ...consumerParams, body: clientCertificateBody } },
    (request) => setClientCertificate(ctx, clientOf(request), consumerOf(request), request.body),
  );

  app.delete<{ Params: ConsumerParams }>("/webhooks/:webhookId/mtls", { schema: consumerParams }, async (request, reply) => {
    await removeClientCertificate(ctx, clientOf(request), consumerOf(request));
    return reply.status(204).send();
  });

  app.delete<{ Params: ConsumerParams }>("/webhooks/:webhookId", { schema: consumerParams }, async (request, reply) => {
    await deleteConsumer(ctx, clientOf(request), consumerOf(request));
    return reply.status(204).send();
  });
}
