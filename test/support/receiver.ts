import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  /** The raw body bytes as received, decoded as UTF-8. */
  body: string;
  receivedAt: number;
  path: string;
  method: string;
}

/** How the receiver answers the n-th request (0-based). Default: 204. */
export type Responder = (index: number, webhook: ReceivedWebhook, response: ServerResponse) => void;

/**
 * A real HTTP webhook receiver on loopback. Tests wait on what it received
 * through events, never by sleeping.
 */
export class Receiver {
  readonly received: ReceivedWebhook[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
    public respond: Responder,
  ) {}

  static async start(respond: Responder = (_index, _webhook, response) => response.writeHead(204).end(), port = 0): Promise<Receiver> {
    const server = createServer();
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    const receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, respond);
    server.on("request", (request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const webhook = {
          headers: request.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          receivedAt: Date.now(),
          path: request.url ?? "",
          method: request.method ?? "",
        };
        const index = receiver.received.length;
        receiver.received.push(webhook);
        receiver.respond(index, webhook, response);
        receiver.waiters = receiver.waiters.filter((waiter) => (receiver.received.length >= waiter.count ? (waiter.resolve(), false) : true));
      });
    });
    return receiver;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Resolves once `count` requests in all have arrived (fails the test after `timeoutMs`). */
  waitFor(count: number, timeoutMs = 20_000): Promise<ReceivedWebhook[]> {
    if (this.received.length >= count) return Promise.resolve(this.received.slice());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Receiver got ${this.received.length} of ${count} expected webhooks`)), timeoutMs);
      this.waiters.push({ count, resolve: () => (clearTimeout(timer), resolve(this.received.slice())) });
    });
  }

  events(): Array<{ id: string; eventType: string; payload: Record<string, unknown> }> {
    return this.received.map((webhook) => JSON.parse(webhook.body));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }
}

/** A receiver for one test, closed when the test ends (passed or failed). */
export async function withReceiver(t: TestContext, respond?: Responder): Promise<Receiver> {
  const receiver = await Receiver.start(respond);
  t.after(() => receiver.close());
  return receiver;
}
