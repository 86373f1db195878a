import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { listCustomHeaders, removeCustomHeader, setCustomHeaders } from "../../domain/consumer-headers.ts";
import { removeClientCertificate, setClientCertificate } from "../../domain/consumer-mtls.ts";
import { findTransformation } from "../../domain/consumer-transformation.ts";
import type { AppContext } from "../../domain/context.ts";
import {
  createConsumer,
  deleteConsumer,
  getConsumer,
  getSigningSecret,
  listConsumers,
  rotateSigningSecret,
  setConsumerEnabled,
  updateConsumer,
  type WebhookConsumerResource,
} from "../../domain/consumers.ts";
import { catalogEventTypes } from "../../domain/events/catalog.ts";
import { sendExample } from "../../domain/events/examples.ts";
import { DELIVERY_STATUSES, getMessage, listAttempts, listConsumerMessages, type MessageFilterInput } from "../../domain/messages.ts";
import { recoverFailed, replayMissed, resendMessage } from "../../domain/redelivery.ts";
import { badRequest, HooklineError, notFound } from "../../errors.ts";
import { asId, type ConsumerId, type MessageId } from "../../ids.ts";
import { field, fieldList, frameFor, utcInstant } from "../portal/frame.ts";
import { fieldErrors, type FormState } from "../portal/pages.ts";
import { seesConsumer, type CsrfGuard } from "../portal/session.ts";
import { renderPage } from "../render.ts";

export type Form = { Body: Record<string, unknown> | undefined };
export type ConsumerParams = { Params: { consumerId: string } };
type MessageParams = { Params: { consumerId: string; messageId: string } };

/** Messages per page of a consumer's log. */
const LOG_PAGE_SIZE = 25;
/** Event types a consumer may subscribe to and that have an example: the catalog less its `{dataType}` patterns. */
export const concreteEventTypes = () => catalogEventTypes().filter((eventType) => !eventType.includes("{"));

/** A 400 of the API, as a form shows it: each error beside its field, the API's message above the form. */
function formState(values: FormState["values"], error?: HooklineError): FormState {
  return { values, errors: error ? fieldErrors(error.validationErrors) : {}, summary: error?.message ?? null };
}

const valuesOf = (consumer: WebhookConsumerResource): FormState["values"] => ({
  url: consumer.url ?? "",
  description: consumer.description ?? "",
  eventTypes: consumer.eventTypes ?? [],
  companyTags: consumer.companyTags ?? [],
  rateLimit: consumer.rateLimit === null ? "" : String(consumer.rateLimit),
  slowConcurrency: consumer.slowConcurrency === null ? "" : String(consumer.slowConcurrency),
});

/** The session's consumer, or 404: another client's, and one a limited session does not include, are not there. */
export async function portalConsumer(ctx: AppContext, request: FastifyRequest<ConsumerParams>): Promise<WebhookConsumerResource> {
  const consumerId = asId<ConsumerId>(request.params.consumerId);
  if (!seesConsumer(request.portalSession, consumerId)) throw notFound("Webhook consumer");
  return getConsumer(ctx, request.portalSession.clientId, consumerId);
}

/** Consumers, their log, their messages and attempts, redelivery and testing: the pages of the webhooks API. */
export function portalConsumerRoutes(app: FastifyInstance, ctx: AppContext, guard: CsrfGuard): void {
  const base = (consumerId: string) => `/portal/consumers/${consumerId}`;
  const consumerOf = (request: FastifyRequest<ConsumerParams>) => portalConsumer(ctx, request);
  const change = (request: FastifyRequest<Form>) => guard.check(request);
  /** A session limited to some consumers manages those; it makes no new ones. */
  const mayCreate = (request: FastifyRequest) => !request.portalSession.readOnly && request.portalSession.consumerIds === null;

  const renderForm = (request: FastifyRequest, reply: FastifyReply, consumer: WebhookConsumerResource | null, form: FormState) =>
    renderPage(reply, "portal/consumer-form", {
      frame: frameFor(request, guard, "consumers", consumer ? "Edit consumer" : "New consumer"),
      consumer,
      action: consumer ? base(consumer.id ?? "") : "/portal/consumers",
      form,
      eventTypes: concreteEventTypes(),
    });

  app.get("/portal/consumers", async (request, reply) => {
    const { clientId, consumerIds } = request.portalSession;
    const results = (await listConsumers(ctx, clientId)).results.filter((consumer) => consumerIds === null || consumerIds.includes(consumer.id as ConsumerId));
    return renderPage(reply, "portal/consumers", {
      frame: frameFor(request, guard, "consumers", "Consumers"),
      consumers: results,
      mayCreate: mayCreate(request),
    });
  });

  app.get("/portal/consumers/new", async (request, reply) => {
    if (!mayCreate(request)) throw new HooklineError(403, "This portal cannot create consumers");
    return renderForm(request, reply, null, formState({ eventTypes: [] }));
  });

  app.post<Form>("/portal/consumers", async (request, reply) => {
    change(request);
    if (!mayCreate(request)) throw new HooklineError(403, "This portal cannot create consumers");
    const values = {
      url: field(request.body, "url").trim(),
      eventTypes: fieldList(request.body, "eventTypes"),
      companyTags: fieldList(request.body, "companyTags"),
    };
    try {
      // The API's own checks, and its words: a missing URL is refused as POST /webhooks refuses it.
      if (values.url === "") throw badRequest("url is required", [{ itemId: "url", message: "Required", validatorName: "required" }]);
      const companyTags = values.companyTags.length > 0 ? values.companyTags : null;
      const consumer = await createConsumer(ctx, request.portalSession.clientId, { url: values.url, eventTypes: values.eventTypes, companyTags });
      return reply.redirect(`${base(consumer.id ?? "")}?done=created`, 303);
    } catch (error) {
      if (!(error instanceof HooklineError) || error.statusCode !== 400) throw error;
      return renderForm(request, reply.status(400), null, formState(values, error));
    }
  });

  app.get<ConsumerParams & { Querystring: Record<string, string | undefined> }>("/portal/consumers/:consumerId", async (request, reply) => {
    const consumer = await consumerOf(request);
    const query = request.query;
    const filters: Record<string, string> = {};
    for (const name of ["status", "eventType", "companyId", "since", "until"]) if (query[name]) filters[name] = query[name]!;
    const filter: MessageFilterInput = {
      status: filters.status,
      eventTypes: filters.eventType === undefined ? undefined : [filters.eventType],
      companyId: filters.companyId,
      since: utcInstant(filters.since ?? ""),
      until: utcInstant(filters.until ?? ""),
    };
    const page = await listConsumerMessages(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId), filter, {
      limit: LOG_PAGE_SIZE,
      cursor: query.cursor || undefined,
    });
    const { headers } = await listCustomHeaders(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId));
    const transformation = await findTransformation(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId));
    const nextPage =
      page.nextCursor === null ? null : `${base(request.params.consumerId)}?${new URLSearchParams({ ...filters, cursor: page.nextCursor })}#logs`;
    return renderPage(reply, "portal/consumer", {
      frame: frameFor(request, guard, "consumers", consumer.url ?? "Consumer"),
      consumer,
      headers,
      transformation: transformation === null ? "None" : transformation.enabled ? "Enabled" : "Disabled",
      messages: page.results.map((message) => ({
        ...message,
        status: message.deliveries[0]?.status ?? "—",
        attempts: message.deliveries[0]?.attemptCount ?? 0,
      })),
      filters,
      nextPage,
      statuses: DELIVERY_STATUSES,
      eventTypes: catalogEventTypes(),
      examples: concreteEventTypes(),
      base: base(request.params.consumerId),
    });
  });

  app.get<ConsumerParams>("/portal/consumers/:consumerId/edit", async (request, reply) => {
    const consumer = await consumerOf(request);
    return renderForm(request, reply, consumer, formState(valuesOf(consumer)));
  });

  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId", async (request, reply) => {
    change(request);
    const consumer = await consumerOf(request);
    const rateLimit = field(request.body, "rateLimit").trim();
    const slowConcurrency = field(request.body, "slowConcurrency").trim();
    const values = {
      url: field(request.body, "url").trim(),
      description: field(request.body, "description").trim(),
      eventTypes: fieldList(request.body, "eventTypes"),
      companyTags: fieldList(request.body, "companyTags"),
      rateLimit,
      slowConcurrency,
    };
    try {
      if (values.url === "") throw badRequest("url is required", [{ itemId: "url", message: "Required", validatorName: "required" }]);
      await updateConsumer(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId), {
        url: values.url,
        description: values.description === "" ? null : values.description,
        eventTypes: values.eventTypes,
        companyTags: values.companyTags.length > 0 ? values.companyTags : null,
        rateLimit: rateLimit === "" ? null : Number(rateLimit),
        slowConcurrency: slowConcurrency === "" ? null : Number(slowConcurrency),
      });
      return reply.redirect(`${base(request.params.consumerId)}?done=saved`, 303);
    } catch (error) {
      if (!(error instanceof HooklineError) || error.statusCode !== 400) throw error;
      return renderForm(request, reply.status(400), consumer, formState(values, error));
    }
  });

  for (const [action, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    app.post<ConsumerParams & Form>(`/portal/consumers/:consumerId/${action}`, async (request, reply) => {
      change(request);
      await consumerOf(request);
      await setConsumerEnabled(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId), enabled);
      return reply.redirect(`${base(request.params.consumerId)}?done=${action}d`, 303);
    });
  }

  app.get<ConsumerParams>("/portal/consumers/:consumerId/secret", async (request, reply) => {
    const consumer = await consumerOf(request);
    // A read-only portal is for watching deliveries: the secret would let its viewer sign webhooks as Hookline.
    if (request.portalSession.readOnly) throw new HooklineError(403, "This portal is read-only: it does not show signing secrets");
    const { key } = await getSigningSecret(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId));
    return renderPage(reply, "portal/secret", {
      frame: frameFor(request, guard, "consumers", "Signing secret"),
      consumer,
      secret: key,
      rotated: false,
      base: base(request.params.consumerId),
    });
  });

  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId/secret/rotate", async (request, reply) => {
    change(request);
    const consumer = await consumerOf(request);
    const { key } = await rotateSigningSecret(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId));
    return renderPage(reply, "portal/secret", {
      frame: frameFor(request, guard, "consumers", "New signing secret"),
      consumer,
      secret: key,
      rotated: true,
      base: base(request.params.consumerId),
    });
  });

  const renderHeaders = async (request: FastifyRequest<ConsumerParams>, reply: FastifyReply, form: FormState) => {
    const consumer = await consumerOf(request);
    const { headers } = await listCustomHeaders(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId));
    return renderPage(reply, "portal/headers", {
      frame: frameFor(request, guard, "consumers", "Custom headers"),
      consumer,
      headers,
      form,
      base: base(request.params.consumerId),
    });
  };

  app.get<ConsumerParams>("/portal/consumers/:consumerId/headers", (request, reply) => renderHeaders(request, reply, formState({})));

  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId/headers", async (request, reply) => {
    change(request);
    await consumerOf(request);
    const name = field(request.body, "name").trim();
    try {
      await setCustomHeaders(
        ctx,
        request.portalSession.clientId,
        asId<ConsumerId>(request.params.consumerId),
        { [name]: field(request.body, "value") },
        "merge",
      );
      return reply.redirect(`${base(request.params.consumerId)}/headers`, 303);
    } catch (error) {
      if (!(error instanceof HooklineError) || error.statusCode !== 400) throw error;
      // The API names a header's errors `headers.<name>`; on this form they all belong to the one header being added.
      const state = formState({ name }, error);
      return renderHeaders(request, reply.status(400), { ...state, errors: { headers: Object.values(state.errors).join("; ") } });
    }
  });

  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId/headers/remove", async (request, reply) => {
    change(request);
    await consumerOf(request);
    await removeCustomHeader(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId), field(request.body, "name"));
    return reply.redirect(`${base(request.params.consumerId)}/headers`, 303);
  });

  const renderMtls = async (request: FastifyRequest<ConsumerParams>, reply: FastifyReply, form: FormState) =>
    renderPage(reply, "portal/mtls", {
      frame: frameFor(request, guard, "consumers", "Client certificate"),
      consumer: await consumerOf(request),
      form,
      base: base(request.params.consumerId),
    });

  app.get<ConsumerParams>("/portal/consumers/:consumerId/mtls", (request, reply) => renderMtls(request, reply, formState({})));

  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId/mtls", async (request, reply) => {
    change(request);
    await consumerOf(request);
    const certificate = field(request.body, "certificate").trim();
    try {
      await setClientCertificate(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId), {
        certificate,
        privateKey: field(request.body, "privateKey").trim(),
      });
      return reply.redirect(`${base(request.params.consumerId)}/mtls`, 303);
    } catch (error) {
      if (!(error instanceof HooklineError) || error.statusCode !== 400) throw error;
      // The key is never sent back into the page, even refused.
      return renderMtls(request, reply.status(400), formState({ certificate }, error));
    }
  });

  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId/mtls/remove", async (request, reply) => {
    change(request);
    await consumerOf(request);
    await removeClientCertificate(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId));
    return reply.redirect(`${base(request.params.consumerId)}/mtls`, 303);
  });

  app.get<ConsumerParams>("/portal/consumers/:consumerId/delete", async (request, reply) => {
    const consumer = await consumerOf(request);
    return renderPage(reply, "portal/confirm-delete", {
      frame: frameFor(request, guard, "consumers", "Delete consumer"),
      consumer,
      base: base(request.params.consumerId),
    });
  });

  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId/delete", async (request, reply) => {
    change(request);
    await consumerOf(request);
    await deleteConsumer(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId));
    return reply.redirect("/portal/consumers?done=deleted", 303);
  });

  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId/examples", async (request, reply) => {
    change(request);
    await consumerOf(request);
    const event = await sendExample(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId), field(request.body, "eventType"));
    return reply.redirect(`${base(request.params.consumerId)}/messages/${event.id}`, 303);
  });

  for (const [action, redeliver] of [
    ["recover", recoverFailed],
    ["replay", replayMissed],
  ] as const) {
    app.post<ConsumerParams & Form>(`/portal/consumers/:consumerId/${action}`, async (request, reply) => {
      change(request);
      await consumerOf(request);
      const result = await redeliver(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId), {
        since: utcInstant(field(request.body, "since")),
      });
      return reply.redirect(`${base(request.params.consumerId)}?done=${action === "recover" ? "recovered" : "replayed"}&count=${result.scheduled}`, 303);
    });
  }

  app.get<MessageParams>("/portal/consumers/:consumerId/messages/:messageId", async (request, reply) => {
    const consumer = await consumerOf(request);
    const { clientId } = request.portalSession;
    const messageId = asId<MessageId>(request.params.messageId);
    const message = await getMessage(ctx, clientId, messageId);
    const delivery = message.deliveries.find((state) => state.webhookId === consumer.id);
    // Under a consumer's page, only that consumer's messages: a limited session sees nothing of the others.
    if (!delivery) throw notFound("Message");
    const attempts = await listAttempts(ctx, clientId, messageId, asId<ConsumerId>(request.params.consumerId), { limit: 100 });
    return renderPage(reply, "portal/message", {
      frame: frameFor(request, guard, "consumers", message.eventType),
      consumer,
      message: { ...message, deliveries: [delivery] },
      status: delivery.status,
      attempts: attempts.results,
      payload: message.payload === null ? null : JSON.stringify(message.payload, null, 2),
      pending: delivery.status === "Sending" || delivery.status === "Attempting",
      base: base(request.params.consumerId),
    });
  });

  app.post<MessageParams & Form>("/portal/consumers/:consumerId/messages/:messageId/resend", async (request, reply) => {
    change(request);
    await consumerOf(request);
    await resendMessage(ctx, request.portalSession.clientId, asId<ConsumerId>(request.params.consumerId), asId<MessageId>(request.params.messageId));
    return reply.redirect(`${base(request.params.consumerId)}/messages/${request.params.messageId}?done=resent`, 303);
  });
}
