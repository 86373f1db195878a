import type { EventSourceMessage } from "eventsource-parser";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { Option, type Command } from "commander";
import { Webhook } from "standardwebhooks";
import { createHooklineClient, type HooklineClient } from "../client/index.ts";
import { ENV } from "../config.ts";

interface ListenOptions {
  forwardTo: string;
  eventTypes: string;
  companyTags?: string;
  apiUrl: string;
  apiKey: string;
}

/** What the stream hands out: one delivery, its body exactly as the server signs it. */
interface StreamedDelivery {
  deliveryId: string;
  messageId: string;
  body: string;
}

/** How long the local receiver has to answer one delivery. */
const LOCAL_TIMEOUT_MS = 30_000;
/** How much of the local answer goes back to the server with the attempt. */
const ANSWER_EXCERPT = 1_000;

const list = (value: string | undefined) =>
  value
    ?.split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");

/** Waits before reconnecting a lost stream: doubling from the first, up to the last, back to the first once a stream opens. */
const RECONNECT_MS = { first: 500, most: 15_000 };
/** A stream silent this much longer than the server's idle interval (or at least this) has died without closing. */
const SILENCE_MARGIN_MS = 5_000;

/**
 * `hookline listen`: like `stripe listen`, for a receiver the server cannot
 * reach (a laptop). Over the API it makes a temporary listen consumer, opens
 * that consumer's stream of deliveries (Server-Sent Events), forwards each
 * one signed with the consumer's secret to the local URL and reports the
 * local answer as the attempt's result. A stream that drops (a server
 * restart, the network) is opened again with backoff, for the same consumer,
 * whose deliveries waited meanwhile. It deletes the consumer when it stops.
 */
export function listenCommand(program: Command): void {
  program
    .command("listen")
    .description("Forward a temporary consumer's deliveries from a server to a local URL, signed (like `stripe listen`)")
    .requiredOption("--forward-to <url>", "the local receiver, e.g. http://localhost:3000/webhooks")
    .requiredOption("--event-types <types>", "event types to hear, comma-separated")
    .option("--company-tags <tags>", "only companies with one of these key:value tags, comma-separated")
    .addOption(new Option("--api-url <url>", "the Hookline server").env(ENV.apiUrl).makeOptionMandatory())
    .addOption(new Option("--api-key <key>", "an API key of the client to listen for").env(ENV.apiKey).makeOptionMandatory())
    .action(listen);
}

async function listen(options: ListenOptions): Promise<void> {
  const client = createHooklineClient({ baseUrl: options.apiUrl, apiKey: options.apiKey });
  const created = await client.POST("/webhooks/listen", {
    body: { eventTypes: list(options.eventTypes) ?? [], companyTags: list(options.companyTags) ?? null },
  });
  if (created.error) throw new Error(`The server refused the listen consumer: ${created.error.error ?? JSON.stringify(created.error)}`);
  const webhookId = created.data.id!;
  const stopped = new AbortController();
  let removing: Promise<void> | undefined;
  const remove = () =>
    (removing ??= client.DELETE("/webhooks/{webhookId}", { params: { path: { webhookId } } }).then(({ error, response }) => {
      // Gone already: the server removed it after HOOKLINE_LISTEN_GRACE without a stream.
      if (error && response.status !== 404) throw new Error(`Could not delete the listen consumer ${webhookId}: ${error.error ?? ""}`);
      process.stderr.write(`Deleted the listen consumer ${webhookId}.\n`);
    }));
  const stop = () => {
    stopped.abort();
    void remove().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(error.message);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("SIGHUP", stop);
  try {
    const secret = await client.GET("/webhooks/{webhookId}/secret", { params: { path: { webhookId } } });
    if (secret.error) throw new Error(`Could not read the listen consumer's secret: ${secret.error.error ?? ""}`);
    const signer = new Webhook(secret.data.key);
    const session: StreamSession = { client, webhookId, signer, forwardTo: options.forwardTo, stopped: stopped.signal };
    let opened = 0;
    let delayMs = RECONNECT_MS.first;
    for (;;) {
      const lost = await streamOnce(session, () => {
        process.stderr.write(
          opened++ === 0
            ? `Ready! Forwarding ${options.eventTypes} to ${options.forwardTo} (consumer ${webhookId}, signing secret ${secret.data.key}). Ctrl+C to stop.\n`
            : `Reconnected: forwarding again (consumer ${webhookId}).\n`,
        );
        delayMs = RECONNECT_MS.first;
      });
      if (stopped.signal.aborted) return;
      process.stderr.write(`Lost the stream (${lost}); reconnecting in ${delayMs / 1000}s. Deliveries wait for consumer ${webhookId} meanwhile.\n`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, RECONNECT_MS.most);
    }
  } catch (error) {
    if (stopped.signal.aborted) return;
    // Whatever ended the listening, the temporary consumer goes with it.
    await remove().catch((removal: Error) => console.error(removal.message));
    throw error;
  }
}

/** The server refused the stream for good: reconnecting would not help. */
class Refused extends Error {}

interface StreamSession {
  client: HooklineClient;
  webhookId: string;
  signer: Webhook;
  forwardTo: string;
  /** Aborted by Ctrl+C or SIGTERM. */
  stopped: AbortSignal;
}

/**
 * Opens the consumer's stream once and forwards what it hands out until it
 * ends; returns why it was lost (to reconnect), or throws when the server
 * refuses it for good (the consumer is gone, the key was revoked).
 */
async function streamOnce(session: StreamSession, onOpen: () => void): Promise<string> {
  const { client, webhookId, stopped } = session;
  const connection = new AbortController();
  const abort = () => connection.abort();
  stopped.addEventListener("abort", abort);
  // Nothing heard for longer than the server ever stays silent: the connection died without closing (a laptop's network).
  let silenceMs: number | undefined;
  let silence: NodeJS.Timeout | undefined;
  let silent = false;
  const listening = (on: boolean) => {
    clearTimeout(silence);
    if (on && silenceMs !== undefined) silence = setTimeout(() => ((silent = true), abort()), silenceMs);
  };
  try {
    const stream = await client.GET("/webhooks/{webhookId}/stream", { params: { path: { webhookId } }, parseAs: "stream", signal: connection.signal });
    if (stream.error || !stream.data) {
      const status = stream.response.status;
      const reason = `the server answered ${status}${stream.error?.error ? `: ${stream.error.error}` : ""}`;
      if (status >= 500 || status === 429) return reason;
      if (status === 404)
        throw new Refused(
          `The listen consumer ${webhookId} is gone (removed after HOOKLINE_LISTEN_GRACE without a stream, or deleted): start hookline listen again.`,
        );
      throw new Refused(`Could not open the stream: ${reason}`);
    }
    for await (const event of eventsOf(stream.data, () => listening(true))) {
      if (event.name === "ready") {
        silenceMs = Math.max(3 * ((JSON.parse(event.data) as { idleMs?: number }).idleMs ?? 0), SILENCE_MARGIN_MS);
        listening(true);
        onOpen();
      } else if (event.name === "delivery") {
        // The server sends nothing while it waits for this answer: no silence is counted meanwhile.
        listening(false);
        await forward(session, JSON.parse(event.data) as StreamedDelivery);
        listening(true);
      }
    }
    return "the server closed the stream";
  } catch (error) {
    if (silent) return `nothing heard for ${silenceMs! / 1000}s`;
    if (stopped.aborted || error instanceof Refused) throw error;
    return reasonOf(error);
  } finally {
    listening(false);
    stopped.removeEventListener("abort", abort);
  }
}

const reasonOf = (error: unknown) => (error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error));

/** The events of a Server-Sent Events stream; `heard` is called for every chunk, comments included. */
async function* eventsOf(body: ReadableStream<Uint8Array>, heard: () => void): AsyncGenerator<{ name: string; data: string }> {
  const decoder = new TextDecoder();
  const events = body
    .pipeThrough(
      new TransformStream<Uint8Array, string>({
        transform(chunk, controller) {
          heard();
          controller.enqueue(decoder.decode(chunk, { stream: true }));
        },
      }),
    )
    .pipeThrough(new EventSourceParserStream());
  for await (const event of events as unknown as AsyncIterable<EventSourceMessage>) yield { name: event.event ?? "", data: event.data };
}

/** Sends one delivery to the local receiver, signed as the server signs, and reports its answer. */
async function forward({ client, webhookId, signer, forwardTo }: StreamSession, delivery: StreamedDelivery): Promise<void> {
  const timestamp = new Date();
  const headers = {
    "content-type": "application/json",
    "webhook-id": delivery.messageId,
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": signer.sign(delivery.messageId, timestamp, delivery.body),
  };
  const eventType = (JSON.parse(delivery.body) as { eventType?: string }).eventType ?? "event";
  const started = performance.now();
  let answer: { statusCode: number | null; response: string | null; error: string | null };
  try {
    const response = await fetch(forwardTo, { method: "POST", headers, body: delivery.body, signal: AbortSignal.timeout(LOCAL_TIMEOUT_MS) });
    answer = { statusCode: response.status, response: (await response.text()).slice(0, ANSWER_EXCERPT), error: null };
  } catch (error) {
    answer = {
      statusCode: null,
      response: null,
      error: error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error),
    };
  }
  const durationMs = Math.round(performance.now() - started);
  process.stderr.write(`${eventType} [${delivery.messageId}] --> ${answer.statusCode ?? answer.error} POST ${forwardTo}\n`);
  const reported = await client.POST("/webhooks/{webhookId}/stream/{deliveryId}", {
    params: { path: { webhookId, deliveryId: delivery.deliveryId } },
    body: { ...answer, durationMs },
  });
  if (reported.error) process.stderr.write(`Could not report ${delivery.messageId}'s answer: ${reported.error.error ?? ""}\n`);
}
