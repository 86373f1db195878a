import type { ExpressionBuilder } from "kysely";
import { isoDate } from "../clock.ts";
import { badRequest, notFound } from "../errors.ts";
import type { Database, DeliveryStatus } from "../storage/schema.ts";
import { asId, type ClientId, type ConsumerId } from "../ids.ts";
import { getConsumer } from "./consumers.ts";
import type { DomainContext } from "./context.ts";
import { cursorPage, readCursorRequest, type CursorPage, type CursorRequest } from "./cursor.ts";
import { parseTimeRange, type TimeRangeInput } from "./time-range.ts";

/** Where one message stands with one consumer. */
export interface DeliveryState {
  webhookId: string;
  status: DeliveryStatus;
  /** Attempts made (or skipped while the consumer was disabled) in the current schedule. */
  attemptCount: number;
  nextAttemptAt: string | null;
  updatedAt: string;
}

export interface MessageSummary {
  id: string;
  eventType: string;
  companyId: string | null;
  generatedDate: string;
  /** An example event sent on request to one consumer. */
  example: boolean;
  /** When the retention job purged the payload; null while it is held. */
  payloadPurgedAt: string | null;
  deliveries: DeliveryState[];
}

export interface MessageDetails extends MessageSummary {
  /** The webhook body exactly as sent (the event JSON), or null once purged. */
  payload: unknown;
}

export interface AttemptResource {
  id: string;
  messageId: string;
  webhookId: string;
  /** 1 for the message's first schedule with this consumer, one more after each resend or recovery that restarted it. */
  schedule: number;
  /** The attempt's place in its schedule (attempts skipped while the consumer was disabled count too). */
  attemptNumber: number;
  timestamp: string;
  durationMs: number;
  statusCode: number | null;
  /** The first KiB of the response body. */
  responseExcerpt: string | null;
  error: string | null;
  succeeded: boolean;
}

export interface MessageFilterInput extends TimeRangeInput {
  eventTypes?: string[] | undefined;
  status?: string | undefined;
  companyId?: string | undefined;
}

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["Sending", "Attempting", "Success", "Failure"];

function deliveryStatus(status: string | undefined): DeliveryStatus | undefined {
  if (status === undefined || (DELIVERY_STATUSES as readonly string[]).includes(status)) return status as DeliveryStatus | undefined;
  const message = `status must be one of ${DELIVERY_STATUSES.join(", ")}; got "${status}"`;
  throw badRequest(message, [{ itemId: "status", message, validatorName: "enum" }]);
}

/** Messages of the client, newest first; across consumers, or only those delivered (or being delivered) to `consumerId`. */
async function listMessagesOf(
  ctx: DomainContext,
  clientId: string,
  consumerId: string | undefined,
  filter: MessageFilterInput,
  request: CursorRequest,
): Promise<CursorPage<MessageSummary>> {
  const { since, until } = parseTimeRange(filter);
  const status = deliveryStatus(filter.status);
  const { limit, after } = readCursorRequest(request);
  let query = ctx.store.db
    .selectFrom("messages")
    .select(["id", "event_type", "company_id", "created_at", "example", "payload_purged_at"])
    .where("client_id", "=", clientId);
  if (filter.eventTypes && filter.eventTypes.length > 0) query = query.where("event_type", "in", filter.eventTypes);
  if (filter.companyId !== undefined) query = query.where("company_id", "=", filter.companyId);
  if (since !== undefined) query = query.where("created_at", ">=", since);
  if (until !== undefined) query = query.where("created_at", "<", until);
  if (consumerId !== undefined || status !== undefined) {
    query = query.where((eb) => eb.exists(deliveriesOf(eb, consumerId, status)));
  }
  if (after) query = query.where((eb) => eb(eb.refTuple("created_at", "id"), "<", eb.tuple(after.at, after.id)));
  const rows = await query
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(limit + 1)
    .execute();

  const page = cursorPage(
    rows,
    limit,
    (row) => ({ at: row.created_at, id: row.id }),
    (row) => row,
  );
  const states = await deliveryStates(
    ctx,
    clientId,
    page.results.map((row) => row.id),
    consumerId,
  );
  return { ...page, results: page.results.map((row) => toSummary(row, states.get(row.id) ?? [])) };
}

function deliveriesOf(eb: ExpressionBuilder<Database, "messages">, consumerId: string | undefined, status: DeliveryStatus | undefined) {
  let deliveries = eb.selectFrom("deliveries").select("deliveries.id").whereRef("deliveries.message_id", "=", "messages.id");
  if (consumerId !== undefined) deliveries = deliveries.where("deliveries.consumer_id", "=", consumerId);
  if (status !== undefined) deliveries = deliveries.where("deliveries.status", "=", status);
  return deliveries;
}

async function deliveryStates(ctx: DomainContext, clientId: string, messageIds: string[], consumerId?: string): Promise<Map<string, DeliveryState[]>> {
  const states = new Map<string, DeliveryState[]>();
  if (messageIds.length === 0) return states;
  let query = ctx.store.db
    .selectFrom("deliveries")
    .select(["message_id", "consumer_id", "status", "attempt_count", "next_attempt_at", "updated_at"])
    .where("client_id", "=", clientId)
    .where("message_id", "in", messageIds);
  if (consumerId !== undefined) query = query.where("consumer_id", "=", consumerId);
  for (const row of await query.orderBy("created_at").orderBy("consumer_id").execute()) {
    states.set(row.message_id, [...(states.get(row.message_id) ?? []), toDeliveryState(row)]);
  }
  return states;
}

export function toDeliveryState(row: {
  consumer_id: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: number | null;
  updated_at: number;
}): DeliveryState {
  return {
    webhookId: row.consumer_id,
    status: row.status,
    attemptCount: row.attempt_count,
    nextAttemptAt: row.next_attempt_at === null ? null : isoDate(row.next_attempt_at),
    updatedAt: isoDate(row.updated_at),
  };
}

type MessageRow = Pick<Database["messages"], "id" | "event_type" | "company_id" | "created_at" | "example" | "payload_purged_at">;

function toSummary(row: MessageRow, deliveries: DeliveryState[]): MessageSummary {
  return {
    id: row.id,
    eventType: row.event_type,
    companyId: row.company_id,
    generatedDate: isoDate(row.created_at),
    example: row.example === 1,
    payloadPurgedAt: row.payload_purged_at === null ? null : isoDate(row.payload_purged_at),
    deliveries,
  };
}

/** Every message of the client, newest first, each with its status at every consumer it was sent to. */
export function listMessages(ctx: DomainContext, clientId: string, filter: MessageFilterInput, request: CursorRequest): Promise<CursorPage<MessageSummary>> {
  return listMessagesOf(ctx, clientId, undefined, filter, request);
}

/** The messages sent (or being sent) to one consumer, newest first, with their status there; `status` filters on it. */
export async function listConsumerMessages(
  ctx: DomainContext,
  clientId: string,
  consumerId: string,
  filter: MessageFilterInput,
  request: CursorRequest,
): Promise<CursorPage<MessageSummary>> {
  await getConsumer(ctx, asId<ClientId>(clientId), asId<ConsumerId>(consumerId));
  return listMessagesOf(ctx, clientId, consumerId, filter, request);
}

async function findMessageRow(ctx: DomainContext, clientId: string, messageId: string) {
  const row = await ctx.store.db.selectFrom("messages").selectAll().where("client_id", "=", clientId).where("id", "=", messageId).executeTakeFirst();
  if (!row) throw notFound("Message");
  return row;
}

export async function getMessage(ctx: DomainContext, clientId: string, messageId: string): Promise<MessageDetails> {
  const row = await findMessageRow(ctx, clientId, messageId);
  const states = await deliveryStates(ctx, clientId, [row.id]);
  return { ...toSummary(row, states.get(row.id) ?? []), payload: row.payload_purged_at === null ? JSON.parse(row.body) : null };
}

/** The attempts of one message, newest first: at every consumer, or at `consumerId` only. */
export async function listAttempts(
  ctx: DomainContext,
  clientId: string,
  messageId: string,
  consumerId: string | undefined,
  request: CursorRequest,
): Promise<CursorPage<AttemptResource>> {
  if (consumerId !== undefined) await getConsumer(ctx, asId<ClientId>(clientId), asId<ConsumerId>(consumerId));
  await findMessageRow(ctx, clientId, messageId);
  const { limit, after } = readCursorRequest(request);
  let query = ctx.store.db
    .selectFrom("attempts")
    .selectAll()
    .select((eb) =>
      eb
        .selectFrom("delivery_restarts")
        .select((count) => count.fn.countAll<number>().as("restarts"))
        .whereRef("delivery_restarts.delivery_id", "=", "attempts.delivery_id")
        .whereRef("delivery_restarts.restarted_at", "<=", "attempts.started_at")
        .as("restarts"),
    )
    .where("client_id", "=", clientId)
    .where("message_id", "=", messageId);
  if (consumerId !== undefined) query = query.where("consumer_id", "=", consumerId);
  if (after) query = query.where((eb) => eb(eb.refTuple("started_at", "id"), "<", eb.tuple(after.at, after.id)));
  const rows = await query
    .orderBy("started_at", "desc")
    .orderBy("id", "desc")
    .limit(limit + 1)
    .execute();
  return cursorPage(
    rows,
    limit,
    (row) => ({ at: row.started_at, id: row.id }),
    (row): AttemptResource => ({
      id: row.id,
      messageId: row.message_id,
      webhookId: row.consumer_id,
      schedule: Number(row.restarts ?? 0) + 1,
      attemptNumber: row.attempt_number,
      timestamp: isoDate(row.started_at),
      durationMs: row.duration_ms,
      statusCode: row.status_code,
      responseExcerpt: row.response_excerpt,
      error: row.error,
      succeeded: row.succeeded === 1,
    }),
  );
}
