import { isoDate } from "../clock.ts";
import { badRequest, conflict, HooklineError, notFound } from "../errors.ts";
import type { Db, Tx } from "../storage/database.ts";
import { loadTags } from "../storage/companies.ts";
import { lockMessages } from "../storage/messages.ts";
import type { DeliveryRestartsTable } from "../storage/schema.ts";
import { getConsumer } from "./consumers.ts";
import type { DomainContext } from "./context.ts";
import type { Position } from "./cursor.ts";
import { subscriptionMatches } from "./events/catalog.ts";
import { tagFilterMatches } from "./events/outbox.ts";
import { toDeliveryState, type DeliveryState } from "./messages.ts";
import { parseTimeRange, type TimeRange, type TimeRangeInput } from "./time-range.ts";
import { asId, newId, type ClientId, type CompanyId, type ConsumerId } from "../ids.ts";

/**
 * Deliveries of existing messages on request: resend one message to one
 * consumer, recover a consumer's failed deliveries, replay what it never got.
 * New events go through the outbox; this only schedules messages already
 * stored, with the same id and body bytes.
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
async function redeliverableConsumer(ctx: DomainContext, clientId: string, consumerId: string) {
  const consumer = await getConsumer(ctx, asId<ClientId>(clientId), asId<ConsumerId>(consumerId));
  if (consumer.disabled) throw conflict("Webhook consumer is disabled: enable it first, or the attempts would be skipped as they fall due");
  return { eventTypes: consumer.eventTypes ?? [], companyTags: consumer.companyTags ?? null, ratePerSecond: consumer.rateLimit ?? ctx.recoveryRatePerSecond };
}

/**
 * A fresh attempt schedule whose first attempt is due at `dueAt`. Clearing the
 * lease keeps an attempt in flight from overwriting it when recorded (and
 * from counting as a lost claim); a rate-limit slot held for the old schedule
 * is given up.
 */
const freshSchedule = (dueAt: number, now: number) =>
  ({ status: "Sending", attempt_count: 0, next_attempt_at: dueAt, lease_owner: null, rate_slot_at: null, unrecorded_claims: 0, updated_at: now }) as const;

const restartRow = (clientId: string, deliveryId: string, reason: DeliveryRestartsTable["reason"], now: number) => ({
  id: newId(),
  client_id: clientId,
  delivery_id: deliveryId,
  reason,
  restarted_at: now,
});

/**
 * Sends one message to one consumer again with a fresh schedule, whatever
 * its filters and whether or not it got the message before. A delivery it
 * already has restarts (its earlier attempts stay in the log, under the
 * previous schedule number); otherwise one is created.
 */
export async function resendMessage(ctx: DomainContext, clientId: string, consumerId: string, messageId: string): Promise<DeliveryState> {
  await redeliverableConsumer(ctx, clientId, consumerId);
  return ctx.store.transaction(async ({ tx, wakeWorkers: wakeWorkers }) => {
    const [message] = await lockMessages(tx, clientId, [messageId]);
    if (!message) throw notFound("Message");
    if (message.payload_purged_at !== null) {
      throw purgedGone(`The message's payload was purged on ${isoDate(message.payload_purged_at)} (payload retention), so it can no longer be sent`);
    }
    const now = ctx.clock.now();
    const schedule = freshSchedule(now, now);
    const existing = await tx
      .selectFrom("deliveries")
      .select("id")
      .where("message_id", "=", messageId)
      .where("consumer_id", "=", consumerId)
      .executeTakeFirst();
    if (existing) {
      await tx.updateTable("deliveries").set(schedule).where("id", "=", existing.id).execute();
      await tx
        .insertInto("delivery_restarts")
        .values(restartRow(clientId, existing.id, "resend", now))
        .execute();
    } else {
      await tx
        .insertInto("deliveries")
        .values({ id: newId(), client_id: clientId, message_id: messageId, consumer_id: consumerId, ...schedule, created_at: now })
        .execute();
    }
    wakeWorkers();
    return toDeliveryState({ consumer_id: consumerId, ...schedule });
  });
}

function requiredRange(input: TimeRangeInput): TimeRange & { since: number } {
  if (input.since === undefined) throw badRequest("since is required", [{ itemId: "since", message: "Required", validatorName: "required" }]);
  const range = parseTimeRange(input);
  return { ...range, since: range.since! };
}

/** Due times `1000 / ratePerSecond` ms apart from `start`, so the consumer never gets more than its rate from a recovery. */
class Pacer {
  private slots = 0;
  constructor(
    private readonly start: number,
    readonly ratePerSecond: number,
  ) {}

  next(): number {
    return this.start + Math.floor((this.slots++ * 1000) / this.ratePerSecond);
  }

  lastDueAt(): string | null {
    return this.slots === 0 ? null : isoDate(this.start + Math.floor(((this.slots - 1) * 1000) / this.ratePerSecond));
  }
}

/** The next chunk of the client's messages in the range, oldest first (so they go out in order) after `after`. */
function messagesInRange(db: Db, clientId: string, range: TimeRange & { since: number }, after: Position | undefined) {
  let query = db
    .selectFrom("messages")
    .select(["id", "event_type", "company_id", "created_at"])
    .where("client_id", "=", clientId)
    .where("created_at", ">=", range.since);
  if (range.until !== undefined) query = query.where("created_at", "<", range.until);
  if (after) query = query.where((eb) => eb(eb.refTuple("created_at", "id"), ">", eb.tuple(after.at, after.id)));
  return query.orderBy("created_at").orderBy("id").limit(CHUNK);
}

interface Candidate {
  id: string;
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
  ctx: DomainContext,
  clientId: string,
  consumerId: string,
  input: TimeRangeInput,
  plan: (consumer: Awaited<ReturnType<typeof redeliverableConsumer>>, range: ReturnType<typeof requiredRange>, pacer: Pacer) => Redelivery<C>,
): Promise<RedeliveryResult> {
  const consumer = await redeliverableConsumer(ctx, clientId, consumerId);
  const range = requiredRange(input);
  const pacer = new Pacer(ctx.clock.now(), consumer.ratePerSecond);
  const { select, schedule } = plan(consumer, range, pacer);
  const result = { scheduled: 0, skippedPurged: 0 };
  let after: Position | undefined;
  for (;;) {
    const { candidates, next } = await select(after);
    if (candidates.length > 0) {
      await ctx.store.transaction(async ({ tx, wakeWorkers: wakeWorkers }) => {
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
export async function recoverFailed(ctx: DomainContext, clientId: string, consumerId: string, input: TimeRangeInput): Promise<RedeliveryResult> {
  return redeliverRange(ctx, clientId, consumerId, input, (consumer, range, pacer) => ({
    select: async (after) => {
      const rows = await messagesInRange(ctx.store.db, clientId, range, after)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom("deliveries")
              .select("deliveries.id")
              .whereRef("deliveries.message_id", "=", "messages.id")
              .where("deliveries.consumer_id", "=", consumerId)
              .where("deliveries.status", "=", "Failure"),
          ),
        )
        .execute();
      return { candidates: rows, next: continueAfter(rows) };
    },
    schedule: async (tx, held, now) => {
      const restarts = [];
      for (const message of held) {
        // Only a delivery still in Failure: one resent meanwhile keeps its new schedule.
        const restarted = await tx
          .updateTable("deliveries")
          .set(freshSchedule(pacer.next(), now))
          .where("message_id", "=", message.id)
          .where("consumer_id", "=", consumerId)
          .where("status", "=", "Failure")
          .returning("id")
          .executeTakeFirst();
        if (restarted) restarts.push(restartRow(clientId, restarted.id, "recover", now));
      }
      if (restarts.length > 0) await tx.insertInto("delivery_restarts").values(restarts).execute();
      return restarts.length;
    },
  }));
}

/**
 * Sends, at a paced rate, the messages of the range that the consumer's
 * current filters match but that it never got (no delivery at all: it was
 * disabled, created later or subscribed later). Example events, made for one
 * consumer, are never replayed to another. Tag filters are matched against
 * the company's current tags.
 */
export async function replayMissed(ctx: DomainContext, clientId: string, consumerId: string, input: TimeRangeInput): Promise<RedeliveryResult> {
  return redeliverRange(ctx, clientId, consumerId, input, (consumer, range, pacer) => ({
    select: async (after) => {
      const rows = await messagesInRange(ctx.store.db, clientId, range, after)
        .where("example", "=", 0)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom("deliveries")
                .select("deliveries.id")
                .whereRef("deliveries.message_id", "=", "messages.id")
                .where("deliveries.consumer_id", "=", consumerId),
            ),
          ),
        )
        .execute();
      const companyIds = [...new Set(rows.flatMap((row) => (row.company_id === null ? [] : [asId<CompanyId>(row.company_id)])))];
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
    schedule: async (tx, held, now) => {
      if (held.length === 0) return 0;
      const inserted = await tx
        .insertInto("deliveries")
        .values(
          held.map((message) => ({
            id: newId(),
            client_id: clientId,
            message_id: message.id,
            consumer_id: consumerId,
            ...freshSchedule(pacer.next(), now),
            created_at: now,
          })),
        )
        // A delivery made meanwhile (a resend) stands.
        .onConflict((oc) => oc.columns(["message_id", "consumer_id"]).doNothing())
        .executeTakeFirst();
      return Number(inserted.numInsertedOrUpdatedRows ?? 0);
    },
  }));
}
