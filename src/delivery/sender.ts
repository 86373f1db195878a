import { Agent, request } from "undici";
import type { DestinationPolicy } from "./destination-policy.ts";

export interface SendResult {
  statusCode: number | null;
  durationMs: number;
  responseExcerpt: string | null;
  error: string | null;
  succeeded: boolean;
}

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * POSTs webhook bodies over keep-alive connections. Only a 2xx answer within
 * the timeout succeeds: redirects are not followed, and timeouts, refused or
 * reset connections and TLS errors are failures with their reason recorded.
 */
export class WebhookSender {
  private readonly agent: Agent;

  constructor(
    private readonly destinations: DestinationPolicy,
    private readonly timeoutMs: number,
    private readonly excerptBytes: number,
  ) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: 32,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: { lookup: destinations.lookup, timeout: timeoutMs },
    });
  }

  async send({ url, headers, body }: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const finish = (result: Omit<SendResult, "durationMs">): SendResult => ({ ...result, durationMs: Math.round(performance.now() - started) });
    try {
      // The policy's lookup guards hostnames at connect time; literal IP addresses skip DNS, so check them here.
      if (this.destinations.isRefusedLiteral(url)) {
        return finish({ statusCode: null, responseExcerpt: null, succeeded: false, error: "Destination address is refused by the SSRF policy" });
      }
      const response = await request(url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "Hookline-Webhooks/0.1", ...headers },
        body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const responseExcerpt = await this.readExcerpt(response.body);
      const succeeded = response.statusCode >= 200 && response.statusCode < 300;
      return finish({ statusCode: response.statusCode, responseExcerpt, succeeded, error: succeeded ? null : `HTTP ${response.statusCode}` });
    } catch (error) {
      return finish({ statusCode: null, responseExcerpt: null, succeeded: false, error: describe(error) });
    }
  }

  private async readExcerpt(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of body) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= this.excerptBytes) {
        body.destroy();
        break;
      }
    }
    return Buffer.concat(chunks).subarray(0, this.excerptBytes).toString("utf8");
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === "TimeoutError" || error.name === "AbortError") return "Timed out waiting for the response";
  const code = (error as NodeJS.ErrnoException).code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code;
  return code ? `${code}: ${error.message}` : error.message;
}
