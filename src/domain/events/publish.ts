import { isoDate } from "../../clock.ts";
import { badRequest, notFound, type ValidationItem } from "../../errors.ts";
import { codatDocument } from "../../openapi/codat.ts";
import type { Db } from "../../storage/database.ts";
import { findCompanies } from "../../storage/companies.ts";
import { companyReference, type CompanySnapshot } from "../company-reference.ts";
import type { AppContext } from "../context.ts";
import { concreteForm, dataTypeHint, eventCatalog, findEventType, isPattern } from "./catalog.ts";
import { eventSchemaViolations, hasCompanyReference } from "./event-schemas.ts";
import type { EventTypeDefinition } from "./event-type.ts";
import { claimIdempotencyKey, recordIdempotentResponse, type IdempotencyKey } from "./idempotency.ts";
import { insertMessagesAfterReads, insertMessagesWithDeliveries, type MessagesWithDeliveries } from "../../storage/messages.ts";
import { planEvents, readSubscribers, type NewEvent } from "./outbox.ts";
import { asId, newId, type ClientId, type CompanyId, type MessageId } from "../../ids.ts";

/** An event the operator's own systems publish, e.g. `read.completed` from its data-sync engine. */
export interface PublishRequest {
  eventType: string;
  /** The company the event is about (its tags drive the tag filters); defaults to `payload.referenceCompany.id`. */
  companyId?: string | null | undefined;
  payload: unknown;
}

/** The event as consumers receive it. */
export interface PublishedEvent {
  id: string;
  eventType: string;
  generatedDate: string;
  payload: unknown;
}

export interface Published<T> {
  result: T;
  /** True when an Idempotency-Key matched an earlier publish: nothing was published again. */
  replayed: boolean;
}

export const MAX_BATCH_EVENTS = 1000;

/** What Hookline emits itself, from its own state changes and the API quota; the operator publishes the rest. */
const EMITTED_BY_HOOKLINE = /^(company\.(created|deleted)$|connection\.|client\.rateLimit\.)/;

/** Whether a catalog type may be published: a Codat event type that Hookline does not emit itself (reads, writes, products). */
export function isPublishable(definition: EventTypeDefinition): boolean {
  return Object.hasOwn(codatDocument.webhooks, definition.eventType) && !EMITTED_BY_HOOKLINE.test(definition.eventType);
}

export const publishableEventTypes = (): string[] => eventCatalog.filter(isPublishable).map((definition) => definition.eventType);

/** Publishes one event: 404 for an unknown company, 400 with the schema violations for an invalid event. */
export function publishEvent(
  ctx: AppContext,
  clientId: ClientId,
  request: PublishRequest,
  idempotency: IdempotencyKey | null,
): Promise<Published<PublishedEvent>> {
  return publish(ctx, clientId, idempotency, async (db, now) => {
    const { value, write } = await planPublished(db, ctx, clientId, [request], now, { single: true });
    return { value: value[0]!, write };
  });
}

/** Publishes up to MAX_BATCH_EVENTS events all or nothing: any invalid item is a 400 listing every item's problems by index. */
export function publishBatch(
  ctx: AppContext,
  clientId: ClientId,
  requests: PublishRequest[],
  idempotency: IdempotencyKey | null,
): Promise<Published<{ results: PublishedEvent[] }>> {
  if (requests.length === 0 || requests.length > MAX_BATCH_EVENTS) {
    throw badRequest(`A batch holds 1 to ${MAX_BATCH_EVENTS} events`, [
      { itemId: "body/events", message: `1 to ${MAX_BATCH_EVENTS} events`, validatorName: "maxItems" },
    ]);
  }
  return publish(ctx, clientId, idempotency, async (db, now) => {
    const { value, write } = await planPublished(db, ctx, clientId, requests, now, { single: false });
    return { value: { results: value }, write };
  });
}

/** What a publish answers, and the messages and deliveries it writes. */
interface PlannedPublish<T> {
  value: T;
  write: MessagesWithDeliveries;
}

/**
 * Runs a publish: its reads, then its writes, all or nothing. Without a key
 * that is Store.insertAfterReads, on PostgreSQL one statement after the
 * reads. With one, a transaction claims the key first, and a key seen before
 * answers that publish's result instead.
 */
function publish<T>(
  ctx: AppContext,
  clientId: ClientId,
  idempotency: IdempotencyKey | null,
  plan: (db: Db, now: number) => Promise<PlannedPublish<T>>,
): Promise<Published<T>> {
  const now = ctx.clock.now();
  if (!idempotency) return insertMessagesAfterReads(ctx.store, (db) => plan(db, now)).then((result) => ({ result, replayed: false }));
  return ctx.store.transaction(async (uow) => {
    const earlier = await claimIdempotencyKey(uow.tx, clientId, idempotency, now);
    if (earlier !== null) return { result: JSON.parse(earlier) as T, replayed: true };
    const { value, write } = await plan(uow.tx, now);
    await insertMessagesWithDeliveries(uow, write);
    await recordIdempotentResponse(uow.tx, clientId, idempotency, JSON.stringify(value));
    return { result: value, replayed: false };
  });
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

function referencedCompanyId(payload: unknown): string | undefined {
  const reference = isObject(payload) ? payload.referenceCompany : undefined;
  return isObject(reference) && typeof reference.id === "string" ? reference.id : undefined;
}

/** How many problems the error text spells out; `validation.errors` holds them all. */
const PROBLEMS_IN_MESSAGE = 5;

/** Validates the requests and decides what publishing them writes; a 404 or 400 for what is wrong, before anything is written. */
async function planPublished(
  db: Db,
  ctx: Pick<AppContext, "config">,
  clientId: ClientId,
  requests: PublishRequest[],
  now: number,
  { single }: { single: boolean },
): Promise<PlannedPublish<PublishedEvent[]>> {
  const { publicUrl } = ctx.config;
  const companyIds = requests.map((request) => (request.companyId ?? referencedCompanyId(request.payload)) as CompanyId | undefined);
  // The subscribers are read while the companies are: two round trips in sequence instead of three.
  const subscribers = readSubscribers(db, clientId);
  const companies = await findCompanies(db, asId<ClientId>(clientId), [...new Set(companyIds.filter((id) => id !== undefined))]);
  const problems: ValidationItem[] = [];
  const events: NewEvent[] = [];
  requests.forEach((request, index) => {
    const where = single ? "body" : `body/events/${index}`;
    const definition = findEventType(request.eventType);
    if (!definition || isPattern(request.eventType) || !isPublishable(definition)) {
      const reason = isPattern(request.eventType)
        ? `is a pattern, not an event type: name the data type, e.g. "${concreteForm(request.eventType)}"`
        : definition
          ? "is emitted by Hookline itself"
          : "is not a catalog type";
      problems.push({ itemId: `${where}/eventType`, message: `"${request.eventType}" ${reason}`, validatorName: "eventType" });
      return;
    }
    const companyId = companyIds[index];
    const company = companyId === undefined ? null : companies.get(companyId);
    if (company === undefined) {
      if (single) throw notFound("Company");
      problems.push({ itemId: `${where}/companyId`, message: `Company ${companyId} not found`, validatorName: "companyId" });
      return;
    }
    const payload = withCompanyReference(definition, request.payload, company, publicUrl);
    const referenced = referencedCompanyId(payload);
    if (company && referenced !== undefined && referenced !== company.id) {
      problems.push({
        itemId: `${where}/payload/referenceCompany/id`,
        message: "must be the id of the company the event is published for (companyId)",
        validatorName: "companyId",
      });
    }
    const event: NewEvent = { id: newId<MessageId>(), clientId, eventType: request.eventType, company, payload, generatedAt: now };
    problems.push(...eventSchemaViolations(definition, { id: event.id, eventType: event.eventType, generatedDate: isoDate(now), payload }, where));
    events.push(event);
  });
  if (problems.length > 0) throw badRequest(problemSummary(problems), problems);

  const { recorded, write } = await planEvents(db, events, { fanOutLimit: ctx.config.limits.publishFanout, subscribers });
  return { value: recorded.map(({ body }) => JSON.parse(body) as PublishedEvent), write };
}

function problemSummary(problems: ValidationItem[]): string {
  const listed = problems.slice(0, PROBLEMS_IN_MESSAGE).map((problem) => `${problem.itemId} ${problem.message}`);
  if (problems.length > PROBLEMS_IN_MESSAGE) listed.push(`and ${problems.length - PROBLEMS_IN_MESSAGE} more`);
  const typeHint = problems.some((problem) => problem.validatorName === "eventType")
    ? `. Publishable event types: ${publishableEventTypes().join(", ")}. ${dataTypeHint()}`
    : "";
  return `Invalid: ${listed.join("; ")}${typeHint}`;
}

/** Events about a company carry its reference; Hookline writes it when the publisher left it out. */
function withCompanyReference(definition: EventTypeDefinition, payload: unknown, company: CompanySnapshot | null, publicUrl: string): unknown {
  if (!company || !hasCompanyReference(definition) || !isObject(payload) || payload.referenceCompany !== undefined) return payload;
  return { referenceCompany: companyReference(publicUrl, company), ...payload };
}
