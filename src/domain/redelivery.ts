import { isoDate } from "../clock.ts";
import { badRequest, conflict, HooklineError, notFound } from "../errors.ts";
import { asId, type ClientId, type CompanyId, type ConsumerId, type DeliveryId, type MessageId } from "../ids.ts";
import { loadTags } from "../storage/companies.ts";
import type { Tx } from "../storage/database.ts";
import { createDeliveries } from "../storage/deliveries/create.ts";
import { findDeliveryId } from "../storage/deliveries/find.ts";
import { freshSchedule } from "../storage/deliveries/fresh-schedule.ts";
import { PARKED_AT } from "../storage/deliveries/park.ts";
import { restartDelivery, restartFailedDeliveries } from "../storage/deliveries/restart.ts";
import { bringForward, readWaitingDeliveries } from "../storage/deliveries/retry-now.ts";
import { lockMessages, readFailedMessagesInRange, readUndeliveredMessagesInRange } from "../storage/messages.ts";
import { getConsumer } from "./consumers.ts";
import type { AppContext } from "./context.ts";
import type { Position } from "./cursor.ts";
import { subscriptionMatches } from "./events/catalog.ts";
import { tagFilterMatches } from "./events/outbox.ts";
import { toDeliveryState, type DeliveryState } from "./messages.ts";
import { isListenUrl } from "./listen-url.ts";
import { Pacer } from "./redelivery-pacer.ts";
import { parseTimeRange, type TimeRange, type TimeRangeInput } from "./time-range.ts";

/**
 * Deliveries of existing messages on request: resend one message to one
 * consumer, recover a consumer's failed deliveries, replay what it never got.
 * New events go through the outbox; this only schedules messages already
 * stored, with the same id and body bytes. A listen consumer's go over its
 * CLI's stream like its new ones.
 */

export interface RedeliveryResult {
  /** Messages whose delivery was scheduled. */
  scheduled: number;
  /** Messages left out because their payload was purged. */
  skippedPurged: number;
  /** The pace of the scheduled deliveries: the consumer's rate limit, or HOOKLINE_RECOVERY_RATE. */
  ratePerSecond: number;
  /** When the last scheduled delivery is due; null when none was scheduled. */
  lastDueAt: string | null;
}

/** Messages per read and per write transaction, so a large range never holds a long transaction. */
const CHUNK = 500;

const purgedGone = (message: string) => new HooklineError(410, message);

/** A consumer that may be sent to now; a disabled one would skip the attempts as they fall due, so it is refused. */
async function redeliverableConsumer(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId) {
  const consumer = await getConsumer(ctx, clientId, consumerId);
  if (consumer.disabled) throw conflict("Webhook consumer is disabled: enable it first, or the attempts would be skipped as they fall due");
  return {
    eventTypes: consumer.eventTypes ?? [],
    companyTags: consumer.companyTags ?? null,
    ratePerSecond: consumer.rateLimit ?? ctx.config.messages.recoveryRatePerSecond,
    listen: isListenUrl(consumer.url ?? ""),
  };
}

/**
 * Sends one message to one consumer again with a fresh schedule, whatever
 * its filters and whether or not it got the message before. A delivery it
 * already has restarts (its earlier attempts stay in the log, under the
 * previous schedule number); otherwise one is created.
 */
export async function resendMessage(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId, messageId: MessageId): Promise<DeliveryState> {
  const consumer = await redeliverableConsumer(ctx, clientId, consumerId);
  return ctx.store.transaction(async ({ tx, wakeWorkers }) => {
    const [message] = await lockMessages(tx, clientId, [messageId]);
    if (!message) throw notFound("Message");
    if (message.payload_purged_at !== null) {
      throw purgedGone(`The message's payload was purged on ${isoDate(message.payload_purged_at)} (payload retention), so it can no longer be sent`);
    }
    const now = ctx.clock.now();
    // A listen consumer's delivery waits parked for its CLI's stream, as all its deliveries do.
    const dueAt = consumer.listen ? PARKED_AT : now;
    const existing = await findDeliveryId(tx, messageId, consumerId);
    if (existing) await restartDelivery(tx, clientId, existing, "resend", dueAt, now);
    else await createDeliveries(tx, [{ clientId, messageId, consumerId, companyId: message.company_id, dueAt, createdAt: now }]);
    wakeWorkers();
    return toDeliveryState({ consumer_id: consumerId, ...freshSchedule(now, now) });
  });
}

function requiredRange(input: TimeRangeInput): TimeRange & { since: number } {
  if (input.since === undefined) throw badRequest("since is required", [{ itemId: "since", message: "Required", validatorName: "required" }]);
  const range = parseTimeRange(input);
  return { ...range, since: range.since! };
}

interface Candidate {
  id: MessageId;
  created_at: number;
}

interface Redelivery<C extends Candidate> {
  /** Reads the next candidates after `after` (no transaction held while reading), and where the chunk after starts, if any. */
  select(after: Position | undefined): Promise<{ candidates: C[]; next: Position | undefined }>;
  /** Writes the deliveries of the candidates whose payload is still held; returns how many it scheduled. */
  schedule(tx: Tx, held: C[], now: number): Promise<number>;
}

/**
 * Recover and replay alike: checks the consumer and the range, then walks the
 * range chunk by chunk, scheduling each chunk in one short transaction, paced
 * at the consumer's rate.
 */
async function redeliverRange<C extends Candidate>(
  ctx: AppContext,
  clientId: ClientId,
  consumerId: ConsumerId,
  input: TimeRangeInput,
  plan: (consumer: Awaited<ReturnType<typeof redeliverableConsumer>>, range: ReturnType<typeof requiredRange>, pacer: Pacer) => Redelivery<C>,
): Promise<RedeliveryResult> {
  const consumer = await redeliverableConsumer(ctx, clientId, consumerId);
  const range = requiredRange(input);
  const pacer = new Pacer(ctx.clock.now(), consumer.ratePerSecond, consumer.listen);
  const { select, schedule } = plan(consumer, range, pacer);
  const result = { scheduled: 0, skippedPurged: 0 };
  let after: Position | undefined;
  for (;;) {
    const { candidates, next } = await select(after);
    if (candidates.length > 0) {
      await ctx.store.transaction(async ({ tx, wakeWorkers }) => {
        const locked = await lockMessages(
          tx,
          clientId,
          candidates.map((candidate) => candidate.id),
        );
        const held = new Set(locked.filter((message) => message.payload_purged_at === null).map((message) => message.id));
        result.skippedPurged += locked.length - held.size;
        const scheduled = await schedule(
          tx,
          candidates.filter((candidate) => held.has(candidate.id)),
          ctx.clock.now(),
        );
        result.scheduled += scheduled;
        if (scheduled > 0) wakeWorkers();
      });
    }
    if (next === undefined) break;
    after = next;
  }
  if (result.scheduled === 0 && result.skippedPurged > 0) {
    throw purgedGone(`The payloads of all ${result.skippedPurged} messages to send were purged (payload retention), so none can be sent`);
  }
  return { ...result, ratePerSecond: pacer.ratePerSecond, lastDueAt: pacer.lastDueAt() };
}

/** Where the next chunk starts, or undefined when this one was the last. */
const continueAfter = (rows: Candidate[]): Position | undefined => {
  const last = rows[rows.length - 1];
  return rows.length === CHUNK && last ? { at: last.created_at, id: last.id } : undefined;
};

/** Restarts, at a paced rate, every delivery to the consumer that ended in Failure for a message of the range. */
export async function recoverFailed(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId, input: TimeRangeInput): Promise<RedeliveryResult> {
  return redeliverRange(ctx, clientId, consumerId, input, (consumer, range, pacer) => ({
    select: async (after) => {
      const rows = await readFailedMessagesInRange(ctx.store.db, clientId, consumerId, range, after, CHUNK);
      return { candidates: rows, next: continueAfter(rows) };
    },
    schedule: (tx, held, now) =>
      restartFailedDeliveries(
        tx,
        clientId,
        consumerId,
        held.map((message) => ({ messageId: message.id, dueAt: pacer.next() })),
        now,
      ),
  }));
}

/**
 * Sends, at a paced rate, the messages of the range that the consumer's
 * current filters match but that it never got (no delivery at all: it was
 * disabled, created later or subscribed later). Example events, made for one
 * consumer, are never replayed to another. Tag filters are matched against
 * the company's current tags.
 */
export async function replayMissed(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId, input: TimeRangeInput): Promise<RedeliveryResult> {
  return redeliverRange(ctx, clientId, consumerId, input, (consumer, range, pacer) => ({
    select: async (after) => {
      const rows = await readUndeliveredMessagesInRange(ctx.store.db, clientId, consumerId, range, after, CHUNK);
      const companyIds = [...new Set(rows.flatMap((row) => (row.company_id === null ? [] : [row.company_id])))];
      const tags = await loadTags(ctx.store.db, companyIds);
      const matching = rows.filter(
        (row) =>
          subscriptionMatches(consumer.eventTypes, row.event_type) &&
          tagFilterMatches(
            consumer.companyTags,
            row.company_id === null ? null : { id: row.company_id, tags: tags.get(asId<CompanyId>(row.company_id)) ?? {} },
          ),
      );
      return { candidates: matching, next: continueAfter(rows) };
    },
    schedule: (tx, held, now) =>
      createDeliveries(
        tx,
        held.map((message) => ({ clientId, messageId: message.id, consumerId, companyId: message.company_id, dueAt: pacer.next(), createdAt: now })),
        // A delivery made meanwhile (a resend) stands.
        { keepExisting: true },
      ),
  }));
}

/**
 * Retry now: the consumer's deliveries still Sending or Attempting that wait
 * for their next attempt become due now, oldest first and paced like
 * recovery. Their status and attempt count stay (it is the next attempt of
 * their schedule, made sooner), so a fixed receiver gets its backlog without
 * waiting out the retry schedule. Deliveries in flight, held by an open
 * circuit or a fifo line, or waiting for a rate-limit slot, are left to those.
 */
export async function retryPendingNow(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<RedeliveryResult> {
  const consumer = await redeliverableConsumer(ctx, clientId, consumerId);
  const pacer = new Pacer(ctx.clock.now(), consumer.ratePerSecond);
  let scheduled = 0;
  let after: DeliveryId | undefined;
  for (;;) {
    const waiting = await readWaitingDeliveries(ctx.store.db, consumerId, ctx.clock.now(), after, CHUNK);
    // Each takes its slot in the pace, even one already due sooner, which then keeps its own time.
    const due = new Map(
      waiting.flatMap((delivery) => {
        const at = pacer.next();
        return delivery.nextAttemptAt > at ? [[delivery.id, at] as const] : [];
      }),
    );
    if (due.size > 0) {
      scheduled += await ctx.store.transaction(async ({ tx, wakeWorkers }) => {
        const moved = await bringForward(tx, due, ctx.clock.now());
        if (moved > 0) wakeWorkers();
        return moved;
      });
    }
    if (waiting.length < CHUNK) break;
    after = waiting[waiting.length - 1]!.id;
  }
  return { scheduled, skippedPurged: 0, ratePerSecond: pacer.ratePerSecond, lastDueAt: scheduled === 0 ? null : pacer.lastDueAt() };
}
