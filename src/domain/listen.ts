import { badRequest } from "../errors.ts";
import { newId, type ClientId, type ConsumerId, type DeliveryId } from "../ids.ts";
import { findListenConsumersUnseenSince, markListenStream, takeListenStream } from "../storage/consumers.ts";
import { claimStreamed, recordStreamed, releaseStreamed, type StreamedDelivery } from "../storage/deliveries/listen.ts";
import { createConsumer, deleteConsumer, getConsumer, type WebhookConsumerResource } from "./consumers.ts";
import type { AppContext } from "./context.ts";
import { isListenUrl } from "./listen-url.ts";

export { isListenUrl } from "./listen-url.ts";

/** Most deliveries one claim hands to a stream; the stream claims again at once while there are more. */
const STREAM_BATCH = 100;
/** Most characters of the local receiver's answer kept with the attempt. */
const EXCERPT_LENGTH = 1_000;

/** The owner of what one stream holds: its own, so a stream that ends hands back only what it held. */
const streamOwner = (consumerId: ConsumerId) => `listen-${consumerId}-${newId()}`;

export interface ListenInput {
  eventTypes: string[];
  companyTags?: string[] | null | undefined;
}

/** A temporary consumer for `hookline listen`: its deliveries wait for the CLI's stream instead of going out over HTTP. */
export function createListenConsumer(ctx: AppContext, clientId: ClientId, input: ListenInput): Promise<WebhookConsumerResource> {
  return createConsumer(ctx, clientId, { ...input, url: "" }, { listen: true });
}

/** The listen consumer itself; 404 for another client's, 400 for a consumer that receives over HTTP. */
async function listenConsumer(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<void> {
  const consumer = await getConsumer(ctx, clientId, consumerId);
  if (!isListenUrl(consumer.url ?? ""))
    throw badRequest("This webhook consumer receives over HTTP; only a consumer made by `hookline listen` (POST /webhooks/listen) streams");
}

/** A stream's source of deliveries: what waits now, and handing back what it did not answer for when it ends. */
export interface DeliveryStream {
  /** What waits now; null once a newer stream of the consumer took over (this one's CLI reconnected): the stream ends. */
  next(): Promise<StreamedDelivery[] | null>;
  /** Longest the stream may wait before calling `next` again, idle: that call also tells the sweep the stream is still open. */
  idleMs: number;
  close(): Promise<void>;
}

/**
 * Opens a listen consumer's stream, which becomes the one that takes its
 * deliveries: every delivery that waits, or comes while it is open, is handed
 * out by `next`. While it is open, and when it ends, it marks the consumer
 * seen: a CLI whose stream dropped has HOOKLINE_LISTEN_GRACE to reconnect
 * before the sweep removes its consumer.
 */
export async function openDeliveryStream(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<DeliveryStream> {
  await listenConsumer(ctx, clientId, consumerId);
  const owner = streamOwner(consumerId);
  // A quarter of the grace between marks: a slow database or a busy process does not let the sweep take an open stream's consumer.
  const markEveryMs = Math.max(1, Math.floor(ctx.config.consumers.listenGraceMs / 4));
  let markedAt = ctx.clock.now();
  const mark = (now: number) => ctx.store.writeStatement((db) => markListenStream(db, consumerId, owner, now));
  await ctx.store.writeStatement((db) => takeListenStream(db, consumerId, owner, markedAt));
  // What an earlier stream took and did not answer for is sent again on this one (a CLI that reconnects); a report
  // from the earlier stream still records it, once.
  await releaseStreamed(ctx.store, consumerId);
  return {
    next: async () => {
      const now = ctx.clock.now();
      if (now - markedAt >= markEveryMs && !(await mark((markedAt = now)))) return null;
      return claimStreamed(ctx.store, consumerId, owner, STREAM_BATCH);
    },
    idleMs: Math.min(ctx.config.delivery.idlePollMs, markEveryMs),
    close: async () => {
      await releaseStreamed(ctx.store, consumerId, owner);
      await mark(ctx.clock.now());
    },
  };
}

/**
 * Removes the listen consumers whose CLI has had no stream open for
 * HOOKLINE_LISTEN_GRACE (killed, or its machine gone), with their deliveries,
 * as the CLI itself does when it stops. Returns how many it removed.
 */
export async function sweepAbandonedListenConsumers(ctx: AppContext): Promise<number> {
  const before = ctx.clock.now() - ctx.config.consumers.listenGraceMs;
  let removed = 0;
  for (const { clientId, consumerId } of await findListenConsumersUnseenSince(ctx.store.db, before)) {
    // Only if still unseen once locked: a CLI that reconnected meanwhile keeps its consumer.
    if (await deleteConsumer(ctx, clientId, consumerId, (row) => row.listen_seen_at !== null && row.listen_seen_at < before)) removed++;
  }
  return removed;
}

/** What the CLI's local receiver answered (or why it could not). */
export interface LocalAnswer {
  statusCode?: number | null | undefined;
  response?: string | null | undefined;
  error?: string | null | undefined;
  durationMs: number;
}

/** Records the local answer as the delivery's one attempt; 400 when the consumer's stream does not hold it (unknown, or already reported). */
export async function reportStreamed(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId, deliveryId: DeliveryId, answer: LocalAnswer): Promise<void> {
  await listenConsumer(ctx, clientId, consumerId);
  const now = ctx.clock.now();
  const recorded = await recordStreamed(ctx.store, {
    clientId,
    consumerId,
    deliveryId,
    now,
    startedAt: now - answer.durationMs,
    durationMs: answer.durationMs,
    statusCode: answer.statusCode ?? null,
    responseExcerpt: answer.response?.slice(0, EXCERPT_LENGTH) ?? null,
    error: answer.statusCode == null ? (answer.error ?? "no answer") : null,
  });
  if (!recorded) throw badRequest(`Delivery ${deliveryId} is not waiting for an answer from this stream (unknown, or already reported)`);
}
