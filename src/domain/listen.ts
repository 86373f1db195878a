import { badRequest } from "../errors.ts";
import { newId, type ClientId, type ConsumerId, type DeliveryId } from "../ids.ts";
import { claimStreamed, recordStreamed, releaseStreamed, type StreamedDelivery } from "../storage/deliveries/listen.ts";
import { createConsumer, getConsumer, type WebhookConsumerResource } from "./consumers.ts";
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
  next(): Promise<StreamedDelivery[]>;
  close(): Promise<void>;
}

/** Opens a listen consumer's stream; every delivery that waits, or comes while it is open, is handed out by `next`. */
export async function openDeliveryStream(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<DeliveryStream> {
  await listenConsumer(ctx, clientId, consumerId);
  const owner = streamOwner(consumerId);
  // What an earlier stream took and did not answer for is sent again on this one (a CLI that reconnects); a report
  // from the earlier stream still records it, once.
  await releaseStreamed(ctx.store, consumerId);
  return {
    next: () => claimStreamed(ctx.store, consumerId, owner, STREAM_BATCH),
    close: async () => {
      await releaseStreamed(ctx.store, consumerId, owner);
    },
  };
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
