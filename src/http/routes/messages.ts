import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import type { CursorRequest } from "../../domain/cursor.ts";
import { getMessage, listAttempts, listConsumerMessages, listMessages, type MessageFilterInput } from "../../domain/messages.ts";
import { recoverFailed, replayMissed, resendMessage, retryPendingNow } from "../../domain/redelivery.ts";
import type { TimeRangeInput } from "../../domain/time-range.ts";
import { codatRef, type JsonSchema } from "../../openapi/codat.ts";
import { attemptListQuery, messageIdSchema, messageListQuery, redeliveryRangeBody } from "../../openapi/hookline/messages.ts";
import { asId, type ClientId, type ConsumerId, type MessageId } from "../../ids.ts";
import { pathParams } from "../schemas.ts";

type MessageListQuery = Omit<MessageFilterInput, "eventTypes"> & CursorRequest & { eventType?: string[] };
type MessageParams = { messageId: string };
type ConsumerParams = { webhookId: string };
type ConsumerMessageParams = ConsumerParams & MessageParams;

const withMessageId = (withWebhookId: boolean): JsonSchema => ({
  type: "object",
  properties: { messageId: messageIdSchema, ...(withWebhookId ? { webhookId: codatRef("/components/parameters/webhookId/schema") } : {}) },
  required: withWebhookId ? ["webhookId", "messageId"] : ["messageId"],
});

const filterOf = ({ eventType, status, companyId, since, until }: MessageListQuery): MessageFilterInput => ({
  eventTypes: eventType,
  status,
  companyId,
  since,
  until,
});
const pageOf = ({ limit, cursor }: CursorRequest): CursorRequest => ({ limit, cursor });
const clientOf = (request: FastifyRequest) => asId<ClientId>(request.client.id);

/** The message log (messages and attempts) and redelivery (resend, recover, replay). */
export function messageRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Querystring: MessageListQuery }>("/messages", { schema: { querystring: messageListQuery } }, (request) =>
    listMessages(ctx, clientOf(request), filterOf(request.query), pageOf(request.query)),
  );

  app.get<{ Params: MessageParams }>("/messages/:messageId", { schema: { params: withMessageId(false) } }, (request) =>
    getMessage(ctx, clientOf(request), asId<MessageId>(request.params.messageId)),
  );

  app.get<{ Params: MessageParams; Querystring: CursorRequest }>(
    "/messages/:messageId/attempts",
    { schema: { params: withMessageId(false), querystring: attemptListQuery } },
    (request) => listAttempts(ctx, clientOf(request), asId<MessageId>(request.params.messageId), undefined, pageOf(request.query)),
  );

  app.get<{ Params: ConsumerParams; Querystring: MessageListQuery }>(
    "/webhooks/:webhookId/messages",
    { schema: { params: pathParams("webhookId"), querystring: messageListQuery } },
    (request) => listConsumerMessages(ctx, clientOf(request), asId<ConsumerId>(request.params.webhookId), filterOf(request.query), pageOf(request.query)),
  );

  app.get<{ Params: ConsumerMessageParams; Querystring: CursorRequest }>(
    "/webhooks/:webhookId/messages/:messageId/attempts",
    { schema: { params: withMessageId(true), querystring: attemptListQuery } },
    (request) =>
      listAttempts(ctx, clientOf(request), asId<MessageId>(request.params.messageId), asId<ConsumerId>(request.params.webhookId), pageOf(request.query)),
  );

  app.post<{ Params: ConsumerMessageParams }>(
    "/webhooks/:webhookId/messages/:messageId/resend",
    { schema: { params: withMessageId(true) } },
    async (request, reply) =>
      reply
        .status(202)
        .send(await resendMessage(ctx, clientOf(request), asId<ConsumerId>(request.params.webhookId), asId<MessageId>(request.params.messageId))),
  );

  app.post<{ Params: ConsumerParams; Body: TimeRangeInput }>(
    "/webhooks/:webhookId/recover",
    { schema: { params: pathParams("webhookId"), body: redeliveryRangeBody } },
    async (request, reply) => reply.status(202).send(await recoverFailed(ctx, clientOf(request), asId<ConsumerId>(request.params.webhookId), request.body)),
  );

  app.post<{ Params: ConsumerParams; Body: TimeRangeInput }>(
    "/webhooks/:webhookId/replay",
    { schema: { params: pathParams("webhookId"), body: redeliveryRangeBody } },
    async (request, reply) => reply.status(202).send(await replayMissed(ctx, clientOf(request), asId<ConsumerId>(request.params.webhookId), request.body)),
  );

  app.post<{ Params: ConsumerParams }>("/webhooks/:webhookId/retry-now", { schema: { params: pathParams("webhookId") } }, async (request, reply) =>
    reply.status(202).send(await retryPendingNow(ctx, clientOf(request), asId<ConsumerId>(request.params.webhookId))),
  );
}
