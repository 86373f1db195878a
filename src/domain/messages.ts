import { isoDate } from "../clock.ts";
import { badRequest, notFound } from "../errors.ts";
import { asId, type AttemptId, type ClientId, type CompanyId, type ConsumerId, type MessageId } from "../ids.ts";
import { readAttemptPage } from "../storage/attempts.ts";
import { readDeliveryStates } from "../storage/deliveries/states.ts";
import { findMessage, readMessagePage, type MessageLogRow } from "../storage/messages.ts";
import type { DeliveryStatus } from "../storage/schema.ts";
import { getConsumer } from "./consumers.ts";
import type { AppContext } from "./context.ts";
import { cursorPage, readCursorRequest, type CursorPage, type CursorRequest } from "./cursor.ts";
import { PARKED_AT } from "../storage/deliveries/park.ts";
import { parseTimeRange, type TimeRangeInput } from "./time-range.ts";

/** Where one message stands with one consumer. */
export interface DeliveryState {
  webhookId: ConsumerId;
  status: DeliveryStatus;
  /** Attempts made (or skipped while the consumer was disabled) in the current schedule. */
  attemptCount: number;
  nextAttemptAt: string | null;
  updatedAt: string;
}

export interface MessageSummary {
  id: MessageId;
  eventType: string;
  companyId: CompanyId | null;
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
  id: AttemptId;
  messageId: MessageId;
  webhookId: ConsumerId;
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
  ctx: AppContext,
  clientId: ClientId,
  consumerId: ConsumerId | undefined,
  filter: MessageFilterInput,
  request: CursorRequest,
): Promise<CursorPage<MessageSummary>> {
  const { since, until } = parseTimeRange(filter);
  const status = deliveryStatus(filter.status);
  const { limit, after } = readCursorRequest(request);
  const companyId = filter.companyId === undefined ? undefined : asId<CompanyId>(filter.companyId);
  const rows = await readMessagePage(ctx.store.db, clientId, { eventTypes: filter.eventTypes, companyId, since, until, consumerId, status }, after, limit + 1);
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

async function deliveryStates(ctx: AppContext, clientId: ClientId, messageIds: MessageId[], consumerId?: ConsumerId): Promise<Map<MessageId, DeliveryState[]>> {
  const states = new Map<MessageId, DeliveryState[]>();
  if (messageIds.length === 0) return states;
  for (const row of await readDeliveryStates(ctx.store.db, clientId, messageIds, consumerId)) {
    states.set(row.message_id, [...(states.get(row.message_id) ?? []), toDeliveryState(row)]);
  }
  return states;
}

export function toDeliveryState(row: {
  consumer_id: ConsumerId;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: number | null;
  updated_at: number;
}): DeliveryState {
  return {
    webhookId: row.consumer_id,
    status: row.status,
    attemptCount: row.attempt_count,
    // A parked delivery waits for its consumer's circuit to close: no time is set for it.
    nextAttemptAt: row.next_attempt_at === null || row.next_attempt_at === PARKED_AT ? null : isoDate(row.next_attempt_at),
    updatedAt: isoDate(row.updated_at),
  };
}

function toSummary(row: MessageLogRow, deliveries: DeliveryState[]): MessageSummary {
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
export function listMessages(ctx: AppContext, clientId: ClientId, filter: MessageFilterInput, request: CursorRequest): Promise<CursorPage<MessageSummary>> {
  return listMessagesOf(ctx, clientId, undefined, filter, request);
}

/** The messages sent (or being sent) to one consumer, newest first, with their status there; `status` filters on it. */
export async function listConsumerMessages(
  ctx: AppContext,
  clientId: ClientId,
  consumerId: ConsumerId,
  filter: MessageFilterInput,
  request: CursorRequest,
): Promise<CursorPage<MessageSummary>> {
  await getConsumer(ctx, asId<ClientId>(clientId), asId<ConsumerId>(consumerId));
  return listMessagesOf(ctx, clientId, consumerId, filter, request);
}

async function findMessageRow(ctx: AppContext, clientId: ClientId, messageId: MessageId) {
  const row = await findMessage(ctx.store.db, clientId, messageId);
  if (!row) throw notFound("Message");
  return row;
}

export async function getMessage(ctx: AppContext, clientId: ClientId, messageId: MessageId): Promise<MessageDetails> {
  const row = await findMessageRow(ctx, clientId, messageId);
  const states = await deliveryStates(ctx, clientId, [row.id]);
  return { ...toSummary(row, states.get(row.id) ?? []), payload: row.payload_purged_at === null ? JSON.parse(row.body) : null };
}

/** The attempts of one message, newest first: at every consumer, or at `consumerId` only. */
export async function listAttempts(
  ctx: AppContext,
  clientId: ClientId,
  messageId: MessageId,
  consumerId: ConsumerId | undefined,
  request: CursorRequest,
): Promise<CursorPage<AttemptResource>> {
  if (consumerId !== undefined) await getConsumer(ctx, asId<ClientId>(clientId), asId<ConsumerId>(consumerId));
  await findMessageRow(ctx, clientId, messageId);
  const { limit, after } = readCursorRequest(request);
  const rows = await readAttemptPage(ctx.store.db, clientId, messageId, consumerId, after, limit + 1);
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
