import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import { describeCatalog } from "../../domain/events/catalog-view.ts";
import { sendExample } from "../../domain/events/examples.ts";
import { idempotencyKey, type IdempotencyKey } from "../../domain/events/idempotency.ts";
import { publishBatch, publishEvent, type Published, type PublishRequest } from "../../domain/events/publish.ts";
import { exampleRequestSchema, publishBatchSchema, publishRequestSchema } from "../../openapi/hookline/events.ts";
import { asId, type ClientId, type ConsumerId } from "../../ids.ts";
import { pathParams } from "../schemas.ts";

/** The event catalog, publishing events (one or a batch) and sending an example to a consumer. */
export function eventRoutes(app: FastifyInstance, ctx: AppContext): void {
  const keyOf = (request: FastifyRequest): IdempotencyKey | null => {
    const header = request.headers["idempotency-key"];
    if (header === undefined) return null;
    return idempotencyKey(
      Array.isArray(header) ? header.join(",") : header,
      `${request.method} ${request.routeOptions.url}`,
      request.body,
      ctx.config.idempotencyKeyTtlMs,
    );
  };
  // A replay answers what the first request did, with 200 instead of 201 and a header saying so.
  const answer = <T>(reply: FastifyReply, { result, replayed }: Published<T>) =>
    replayed ? reply.status(200).header("idempotent-replayed", "true").send(result) : reply.status(201).send(result);

  app.get("/events/catalog", async () => describeCatalog());

  app.post<{ Body: PublishRequest }>("/events", { schema: { body: publishRequestSchema } }, async (request, reply) =>
    answer(reply, await publishEvent(ctx, asId<ClientId>(request.client.id), request.body, keyOf(request))),
  );

  app.post<{ Body: { events: PublishRequest[] } }>("/events/batch", { schema: { body: publishBatchSchema } }, async (request, reply) =>
    answer(reply, await publishBatch(ctx, asId<ClientId>(request.client.id), request.body.events, keyOf(request))),
  );

  app.post<{ Params: { webhookId: string }; Body: { eventType: string } }>(
    "/webhooks/:webhookId/examples",
    { schema: { params: pathParams("webhookId"), body: exampleRequestSchema } },
    async (request, reply) =>
      reply.status(202).send(await sendExample(ctx, asId<ClientId>(request.client.id), asId<ConsumerId>(request.params.webhookId), request.body.eventType)),
  );
}
