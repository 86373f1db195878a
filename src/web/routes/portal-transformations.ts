import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import {
  deleteTransformation,
  findTransformation,
  setTransformation,
  testTransformation,
  type TransformationTestResult,
} from "../../domain/consumer-transformation.ts";
import type { WebhookConsumerResource } from "../../domain/consumers.ts";
import { badRequest, HooklineError } from "../../errors.ts";
import { asId, type ConsumerId } from "../../ids.ts";
import { field, frameFor } from "../portal/frame.ts";
import { fieldErrors, type FormState } from "../portal/pages.ts";
import type { CsrfGuard } from "../portal/session.ts";
import { renderPage } from "../render.ts";
import { concreteEventTypes, portalConsumer, type ConsumerParams, type Form } from "./portal-consumers.ts";

/** What the editor starts with when the consumer has no transformation yet: the handler's shape, changing nothing. */
const STARTER_CODE = `function handler(webhook) {
  // webhook: { method, url, payload, eventType, cancel }
  return webhook;
}
`;

/**
 * A consumer's transformation in the portal: its code with the enabled
 * switch, saved, deleted and tested through the operations of
 * `/webhooks/{webhookId}/transformation`, in the API's words.
 */
export function portalTransformationRoutes(app: FastifyInstance, ctx: AppContext, guard: CsrfGuard): void {
  const base = (consumerId: string) => `/portal/consumers/${consumerId}/transformation`;
  const idOf = (request: FastifyRequest<ConsumerParams>) => asId<ConsumerId>(request.params.consumerId);

  const render = async (
    request: FastifyRequest<ConsumerParams>,
    reply: FastifyReply,
    consumer: WebhookConsumerResource,
    form: FormState,
    test: TransformationTestResult | null = null,
    saved?: Awaited<ReturnType<typeof findTransformation>>,
  ) =>
    renderPage(reply, "portal/transformation", {
      frame: frameFor(request, guard, "consumers", "Transformation"),
      consumer,
      saved: saved === undefined ? await findTransformation(ctx, request.portalSession.clientId, idOf(request)) : saved,
      form,
      test: test && { ...test, resultJson: test.result === null ? null : JSON.stringify(test.result, null, 2) },
      examples: concreteEventTypes(),
      base: base(request.params.consumerId),
    });

  /** The form's values, as entered: sent back into the page with its errors or a test's outcome. */
  const valuesOf = (request: FastifyRequest<Form>): FormState["values"] => ({
    code: field(request.body, "code"),
    enabled: field(request.body, "enabled") === "on" ? "on" : "",
    eventType: field(request.body, "eventType"),
    payload: field(request.body, "payload"),
  });
  const refused = (values: FormState["values"], error: HooklineError): FormState => ({
    values,
    errors: fieldErrors(error.validationErrors),
    summary: error.message,
  });

  app.get<ConsumerParams>("/portal/consumers/:consumerId/transformation", async (request, reply) => {
    const consumer = await portalConsumer(ctx, request);
    const saved = await findTransformation(ctx, request.portalSession.clientId, idOf(request));
    const values = {
      code: saved?.code ?? STARTER_CODE,
      enabled: saved === null || saved.enabled ? "on" : "",
      eventType: consumer.eventTypes?.[0] ?? "",
      payload: "",
    };
    return render(request, reply, consumer, { values, errors: {}, summary: null }, null, saved);
  });

  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId/transformation", async (request, reply) => {
    guard.check(request);
    const consumer = await portalConsumer(ctx, request);
    const values = valuesOf(request);
    try {
      await setTransformation(ctx, request.portalSession.clientId, idOf(request), { code: String(values.code), enabled: values.enabled === "on" });
      return reply.redirect(`${base(request.params.consumerId)}?done=transformation-saved`, 303);
    } catch (error) {
      // A 400 of the engine (a syntax error and its line, no handler) goes beside the code.
      if (!(error instanceof HooklineError) || error.statusCode !== 400) throw error;
      return render(request, reply.status(400), consumer, refused(values, error));
    }
  });

  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId/transformation/delete", async (request, reply) => {
    guard.check(request);
    await portalConsumer(ctx, request);
    await deleteTransformation(ctx, request.portalSession.clientId, idOf(request));
    return reply.redirect(`/portal/consumers/${request.params.consumerId}?done=transformation-deleted`, 303);
  });

  // A test run changes nothing and sends nothing, so a read-only portal may run one too (the CSRF token still guards it).
  app.post<ConsumerParams & Form>("/portal/consumers/:consumerId/transformation/test", async (request, reply) => {
    guard.check(request, true);
    const consumer = await portalConsumer(ctx, request);
    const values = valuesOf(request);
    try {
      const pasted = String(values.payload).trim();
      let payload: unknown;
      if (pasted !== "") {
        try {
          payload = JSON.parse(pasted);
        } catch (error) {
          const message = `payload is not valid JSON: ${(error as Error).message}`;
          throw badRequest(message, [{ itemId: "payload", message, validatorName: "json" }]);
        }
      }
      const test = await testTransformation(ctx, request.portalSession.clientId, idOf(request), {
        code: String(values.code),
        ...(payload === undefined ? { eventType: String(values.eventType) } : { payload }),
      });
      return render(request, reply, consumer, { values, errors: {}, summary: null }, test);
    } catch (error) {
      if (!(error instanceof HooklineError) || error.statusCode !== 400) throw error;
      return render(request, reply.status(400), consumer, refused(values, error));
    }
  });
}
