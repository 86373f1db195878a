import { Option, type Command } from "commander";
import { Webhook } from "standardwebhooks";
import { createHooklineClient, type HooklineClient } from "../client/index.ts";

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

/**
 * `hookline listen`: like `stripe listen`, for a receiver the server cannot
 * reach (a laptop). Over the API it makes a temporary listen consumer, opens
 * that consumer's stream of deliveries (Server-Sent Events), forwards each
 * one signed with the consumer's secret to the local URL and reports the
 * local answer as the attempt's result. It deletes the consumer when it stops.
 */
export function listenCommand(program: Command): void {
  program
    .command("listen")
    .description("Forward a temporary consumer's deliveries from a server to a local URL, signed (like `stripe listen`)")
    .requiredOption("--forward-to <url>", "the local receiver, e.g. http://localhost:3000/webhooks")
    .requiredOption("--event-types <types>", "event types to hear, comma-separated")
    .option("--company-tags <tags>", "only companies with one of these key:value tags, comma-separated")
    .addOption(new Option("--api-url <url>", "the Hookline server").env("HOOKLINE_API_URL").makeOptionMandatory())
    .addOption(new Option("--api-key <key>", "an API key of the client to listen for").env("HOOKLINE_API_KEY").makeOptionMandatory())
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
    (removing ??= client.DELETE("/webhooks/{webhookId}", { params: { path: { webhookId } } }).then(({ error }) => {
      if (error) throw new Error(`Could not delete the listen consumer ${webhookId}: ${error.error ?? ""}`);
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
  try {
    const secret = await client.GET("/webhooks/{webhookId}/secret", { params: { path: { webhookId } } });
    if (secret.error) throw new Error(`Could not read the listen consumer's secret: ${secret.error.error ?? ""}`);
    const signer = new Webhook(secret.data.key);
    const stream = await client.GET("/webhooks/{webhookId}/stream", { params: { path: { webhookId } }, parseAs: "stream", signal: stopped.signal });
    if (stream.error || !stream.data) throw new Error(`Could not open the stream: ${stream.error?.error ?? stream.response.status}`);
    process.stderr.write(
      `Ready! Forwarding ${options.eventTypes} to ${options.forwardTo} (consumer ${webhookId}, signing secret ${secret.data.key}). Ctrl+C to stop.\n`,
    );
    for await (const delivery of deliveriesOf(stream.data)) await forward(client, webhookId, signer, options.forwardTo, delivery);
    if (!stopped.signal.aborted) throw new Error("The server closed the stream");
  } catch (error) {
    if (stopped.signal.aborted) return;
    // Whatever ended the listening, the temporary consumer goes with it.
    await remove().catch((removal: Error) => console.error(removal.message));
    throw error;
  }
}

/** The `delivery` events of a Server-Sent Events stream. */
async function* deliveriesOf(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamedDelivery> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf("\n\n")) !== -1) {
      const lines = buffered.slice(0, end).split("\n");
      buffered = buffered.slice(end + 2);
      const field = (name: string) =>
        lines
          .filter((line) => line.startsWith(`${name}:`))
          .map((line) => line.slice(name.length + 1).replace(/^ /, ""))
          .join("\n");
      if (field("event") === "delivery") yield JSON.parse(field("data")) as StreamedDelivery;
    }
  }
}

/** Sends one delivery to the local receiver, signed as the server signs, and reports its answer. */
async function forward(client: HooklineClient, webhookId: string, signer: Webhook, forwardTo: string, delivery: StreamedDelivery): Promise<void> {
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
