import { badRequest, conflict, notFound } from "../../errors.ts";
import { asId, type ClientId, type ConsumerId } from "../../ids.ts";
import { findConsumer } from "../../storage/consumers.ts";
import type { AppContext } from "../context.ts";
import { catalogEventTypes, dataTypeHint, findEventType, isPattern } from "./catalog.ts";
import { recordEvent } from "./outbox.ts";
import type { PublishedEvent } from "./publish.ts";

/**
 * Sends the catalog's example of an event type to one consumer, whatever it
 * subscribed to: a new message (fresh id and generatedDate, the example's
 * payload) marked as an example, delivered, signed and retried like any
 * other, to that consumer only.
 */
export async function sendExample(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId, eventType: string): Promise<PublishedEvent> {
  const definition = findEventType(eventType);
  if (!definition || isPattern(eventType)) {
    throw badRequest(
      isPattern(eventType)
        ? `"${eventType}" is a pattern, not an event type. ${dataTypeHint(eventType)}`
        : `Unknown event type "${eventType}". Valid event types: ${catalogEventTypes().join(", ")}. ${dataTypeHint()}`,
      [{ itemId: "body/eventType", message: "Unknown event type", validatorName: "eventType" }],
    );
  }
  const example = definition.example as { payload?: unknown } | undefined;
  const now = ctx.clock.now();
  return ctx.store.transaction(async (uow) => {
    const consumer = await findConsumer(uow.tx, asId<ClientId>(clientId), asId<ConsumerId>(consumerId));
    if (!consumer) throw notFound("Webhook consumer");
    if (consumer.disabled === 1) throw conflict("The webhook consumer is disabled; enable it to send it an example");
    const { body } = await recordEvent(
      uow,
      { clientId, eventType, company: null, payload: example?.payload ?? {}, generatedAt: now },
      { exampleFor: consumerId },
    );
    return JSON.parse(body) as PublishedEvent;
  });
}
