import { isoDate } from "../../clock.ts";
import { badRequest } from "../../errors.ts";
import { asId, newId, type ClientId, type CompanyId, type ConsumerId, type MessageId } from "../../ids.ts";
import { listSubscribers, type Subscriber } from "../../storage/consumers.ts";
import type { Db, UnitOfWork } from "../../storage/database.ts";
import type { NewDelivery } from "../../storage/deliveries/create.ts";
import { PARKED_AT } from "../../storage/deliveries/park.ts";
import { isListenUrl } from "../listen-url.ts";
import { insertMessagesWithDeliveries, type MessagesWithDeliveries, type NewMessage } from "../../storage/messages.ts";
import { findClientProfile } from "../../storage/client-profiles.ts";
import { findClient } from "../../storage/clients.ts";
import { subscriptionMatches } from "./catalog.ts";
import { isLegacyRuleType, legacyAlertBody, renderAlerts } from "./legacy-rules.ts";

export interface NewEvent {
  /** Set when the caller needs the id before recording (to validate the exact body); a new UUID otherwise. */
  id?: MessageId;
  clientId: ClientId;
  eventType: string;
  /** The company the event is about, if any; its tags drive the consumers' tag filters. */
  company: { id: CompanyId; tags: Record<string, string> } | null;
  payload: unknown;
  generatedAt: number;
}

export interface RecordOptions {
  /**
   * An example event sent on request to this one consumer: delivered to it
   * whatever its subscription and tags, to no other, and marked as an example.
   */
  exampleFor?: ConsumerId;
  /** The most deliveries these events may create together; beyond it nothing is recorded and the call is a 400. */
  fanOutLimit?: number;
  /** The client's subscribers, read already (readSubscribers) beside the caller's own reads; read here without it. Not with `exampleFor`. */
  subscribers?: Promise<Subscriber[]>;
}

/**
 * Starts reading the client's subscribers, for planEvents, so that a caller
 * can do its own reads meanwhile: on PostgreSQL each read is a round trip.
 * A read that fails is only thrown where it is awaited, so a caller that
 * fails first leaves nothing unhandled.
 */
export function readSubscribers(db: Db, clientId: ClientId): Promise<Subscriber[]> {
  const read = listSubscribers(db, clientId);
  read.catch(() => undefined);
  return read;
}

export interface RecordedEvent {
  id: MessageId;
  /** The event JSON exactly as signed and sent. */
  body: string;
}

/**
 * The transactional outbox: the one function that turns an event into a
 * stored message and one pending delivery per matching consumer. Callers run
 * it in the unit of work that made the change, so a change and its event are
 * committed together or not at all, and workers are woken once they are.
 */
export async function recordEvent(uow: UnitOfWork, event: NewEvent, options: RecordOptions = {}): Promise<RecordedEvent> {
  return (await recordEvents(uow, [event], options))[0]!;
}

/** recordEvent for many events of one client at once: the consumers are read once and rows are inserted in bulk. */
export async function recordEvents(uow: UnitOfWork, events: readonly NewEvent[], options: RecordOptions = {}): Promise<RecordedEvent[]> {
  const { recorded, write } = await planEvents(uow.tx, events, options);
  await insertMessagesWithDeliveries(uow, write);
  return recorded;
}

/**
 * What recording the events writes, decided from reads alone: their
 * messages, those of the legacy alerts they raise, and the deliveries of
 * both. For a caller that writes it apart from the reads
 * (insertMessagesAfterReads); recordEvents writes it in its unit of work.
 */
export async function planEvents(
  db: Db,
  events: readonly NewEvent[],
  options: RecordOptions = {},
): Promise<{ recorded: RecordedEvent[]; write: MessagesWithDeliveries }> {
  if (events.length === 0) return { recorded: [], write: { messages: [], deliveries: [], toOrderedConsumers: false } };
  const clientId = events[0]!.clientId;
  if (events.some((event) => event.clientId !== clientId)) throw new Error("recordEvents takes the events of one client");
  const example = options.exampleFor !== undefined;
  const messages: NewMessage[] = events.map((event) => {
    const id = event.id ?? newId<MessageId>();
    const body = JSON.stringify({ id, eventType: event.eventType, generatedDate: isoDate(event.generatedAt), payload: event.payload });
    return {
      id,
      client_id: clientId,
      event_type: event.eventType,
      company_id: event.company?.id ?? null,
      body,
      created_at: event.generatedAt,
      example: example ? 1 : 0,
      source_message_id: null,
    };
  });
  const recorded = messages.map(({ id, body }) => ({ id, body }));

  const subscriptions = await (options.subscribers ??
    listSubscribers(db, asId<ClientId>(clientId), example ? asId<ConsumerId>(options.exampleFor!) : undefined));
  const deliveries = events.flatMap((event, index) =>
    subscriptions
      .filter((consumer) => example || (subscriptionMatches(consumer.eventTypes, event.eventType) && tagFilterMatches(consumer.companyTags, event.company)))
      .map((consumer) => ({
        clientId,
        messageId: messages[index]!.id,
        consumerId: consumer.id,
        companyId: messages[index]!.company_id,
        dueAt: firstDueAt(consumer, event.generatedAt),
        createdAt: event.generatedAt,
      })),
  );
  if (!example) {
    const alerts = await legacyAlerts(db, clientId, events, recorded, subscriptions);
    messages.push(...alerts.messages);
    deliveries.push(...alerts.deliveries);
  }
  if (options.fanOutLimit !== undefined && deliveries.length > options.fanOutLimit) {
    throw badRequest(
      `These events would create ${deliveries.length} deliveries (events times the consumers each goes to), more than the ${options.fanOutLimit} one request may: send fewer events at once`,
    );
  }
  const ordered = new Set(subscriptions.filter((consumer) => consumer.ordered).map((consumer) => consumer.id));
  return { recorded, write: { messages, deliveries, toOrderedConsumers: deliveries.some((delivery) => ordered.has(delivery.consumerId)) } };
}

/**
 * When a new delivery to the consumer falls due. A consumer whose circuit is
 * open takes nothing before its cool-down ends: its new deliveries fall due
 * then, behind what other consumers were sent meanwhile, rather than among
 * their fresh events only to be held back once claimed. A listen consumer's
 * deliveries are parked: no worker sends them, its CLI's stream takes them
 * (domain/listen.ts).
 */
function firstDueAt(consumer: Subscriber, generatedAt: number): number {
  return isListenUrl(consumer.url) ? PARKED_AT : Math.max(generatedAt, consumer.circuitOpenUntil ?? 0);
}

/**
 * For consumers subscribed to legacy rule types: each event is also rendered
 * as the alerts those rules raise, each alert a message of its own (its type
 * the rule type, its body the flat payload, its id the AlertId) with a
 * delivery to each such consumer whose tags match. From there an alert is
 * signed, retried, logged, resent and replayed like any event; it names the
 * event it came from, which pairs it with the same change's event deliveries
 * in a migration's comparison report. Nothing is
 * read or rendered when no consumer of the client names a rule type.
 */
async function legacyAlerts(
  db: Db,
  clientId: ClientId,
  events: readonly NewEvent[],
  eventMessages: ReadonlyArray<{ id: MessageId }>,
  subscriptions: readonly Subscriber[],
): Promise<Omit<MessagesWithDeliveries, "toOrderedConsumers">> {
  const legacy = subscriptions.filter((consumer) => consumer.eventTypes.some(isLegacyRuleType));
  if (legacy.length === 0) return { messages: [], deliveries: [] };
  const wanted = new Set(legacy.flatMap((consumer) => consumer.eventTypes.filter(isLegacyRuleType)));
  const clientName = (await findClientProfile(db, clientId))?.name ?? (await findClient(db, clientId))?.name ?? "";
  const messages: NewMessage[] = [];
  const deliveries: NewDelivery[] = [];
  for (const [index, event] of events.entries()) {
    const source = { clientId, clientName, eventType: event.eventType, companyId: event.company?.id ?? null, payload: event.payload };
    for (const alert of renderAlerts(source, wanted)) {
      const id = newId<MessageId>();
      const to = legacy.filter((consumer) => consumer.eventTypes.includes(alert.RuleType) && tagFilterMatches(consumer.companyTags, event.company));
      if (to.length === 0) continue;
      messages.push({
        id,
        client_id: clientId,
        event_type: alert.RuleType,
        company_id: event.company?.id ?? null,
        body: legacyAlertBody(id, alert),
        created_at: event.generatedAt,
        example: 0,
        source_message_id: eventMessages[index]!.id,
      });
      for (const consumer of to) {
        deliveries.push({
          clientId,
          messageId: id,
          consumerId: consumer.id,
          companyId: event.company?.id ?? null,
          dueAt: firstDueAt(consumer, event.generatedAt),
          createdAt: event.generatedAt,
        });
      }
    }
  }
  return { messages, deliveries };
}

/**
 * A consumer without company tags hears about every company; one with tags
 * hears about a company that carries at least one of them (`key:value`,
 * case-sensitive), and never about events that concern no company.
 */
export function tagFilterMatches(consumerTags: string[] | null, company: NewEvent["company"]): boolean {
  if (consumerTags === null || consumerTags.length === 0) return true;
  if (company === null) return false;
  return consumerTags.some((tag) => {
    const colon = tag.indexOf(":");
    return colon > 0 && company.tags[tag.slice(0, colon)] === tag.slice(colon + 1);
  });
}
