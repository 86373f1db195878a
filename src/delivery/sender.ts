import { rootCertificates } from "node:tls";
import { Agent, request } from "undici";
import { RESERVED_HEADER_NAMES } from "../domain/consumer-headers.ts";
import type { SecretBox } from "../secret-box.ts";
import type { StoredClientCertificate } from "../storage/deliveries.ts";
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
  /** The Standard Webhooks headers of this attempt. */
  headers: Record<string, string>;
  body: string;
  /** The consumer's own headers. Reserved names are dropped: they never replace the signature headers or the content type. */
  customHeaders?: Record<string, string> | null;
  /** Presented as the TLS client certificate (mTLS). */
  clientCertificate?: StoredClientCertificate | null;
}

export interface SenderTls {
  /** PEM CA certificates trusted besides Node's bundled roots (HOOKLINE_EXTRA_CA_FILE). */
  extraCa?: string | null;
  /** Opens the sealed mTLS private keys; null when the operator set no encryption key. */
  secretBox?: SecretBox | null;
}

const USER_AGENT = "Hookline-Webhooks/0.1";

/**
 * POSTs webhook bodies over keep-alive connections. Only a 2xx answer within
 * the timeout succeeds: redirects are not followed, and timeouts, refused or
 * reset connections and TLS errors are failures with their reason recorded.
 */
export class WebhookSender {
  private readonly agent: Agent;
  /** Trusted CAs when the operator added some; undefined keeps Node's defaults. */
  private readonly ca: string[] | undefined;
  /**
   * One agent per consumer with a client certificate, rebuilt when its
   * certificate or key changes (a new seal each time). An agent left unused
   * holds no sockets once its keep-alive connections time out.
   */
  private readonly certificateAgents = new Map<string, { sealedKey: string; agent: Agent }>();

  constructor(
    private readonly destinations: DestinationPolicy,
    private readonly timeoutMs: number,
    private readonly excerptBytes: number,
    private readonly tls: SenderTls = {},
  ) {
    this.ca = tls.extraCa ? [...rootCertificates, tls.extraCa] : undefined;
    this.agent = this.newAgent();
  }

  private newAgent(clientCertificate?: { cert: string; key: string }): Agent {
    return new Agent({
      keepAliveTimeout: 30_000,
      connections: 64,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: { lookup: this.destinations.lookup, timeout: this.timeoutMs, ca: this.ca, ...clientCertificate },
    });
  }

  /** The agent presenting this consumer's certificate; throws when its key cannot be opened with the configured key. */
  private agentFor({ consumerId, certificate, sealedKey }: StoredClientCertificate): Agent {
    const cached = this.certificateAgents.get(consumerId);
    if (cached?.sealedKey === sealedKey) return cached.agent;
    if (!this.tls.secretBox) throw new Error("The consumer's mTLS key cannot be used: HOOKLINE_ENCRYPTION_KEY is not set");
    let key: string;
    try {
      key = this.tls.secretBox.open(sealedKey, consumerId);
    } catch {
      throw new Error("The consumer's mTLS key cannot be decrypted: HOOKLINE_ENCRYPTION_KEY differs from the key it was stored with");
    }
    if (cached) void cached.agent.close();
    const agent = this.newAgent({ cert: certificate, key });
    this.certificateAgents.set(consumerId, { sealedKey, agent });
    return agent;
  }

  async send({ url, headers, body, customHeaders, clientCertificate }: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const finish = (result: Omit<SendResult, "durationMs">): SendResult => ({ ...result, durationMs: Math.round(performance.now() - started) });
    try {
      // The policy's lookup guards hostnames at connect time; literal IP addresses skip DNS, so check them here.
      if (this.destinations.isRefusedLiteral(url)) {
        return finish({ statusCode: null, responseExcerpt: null, succeeded: false, error: "Destination address is refused by the SSRF policy" });
      }
      const response = await request(url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...(customHeaders && allowedHeaders(customHeaders)), ...headers },
        body,
        dispatcher: clientCertificate ? this.agentFor(clientCertificate) : this.agent,
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
    // Receivers may answer binary content; PostgreSQL text cannot hold NUL, and one such excerpt would fail its whole batch's record.
    return Buffer.concat(chunks).subarray(0, this.excerptBytes).toString("utf8").replaceAll("\u0000", "\uFFFD");
  }

  async close(): Promise<void> {
    await Promise.all([this.agent, ...[...this.certificateAgents.values()].map((entry) => entry.agent)].map((agent) => agent.close()));
  }
}

/** A consumer's headers with lower-case names, less the reserved ones: they may add headers and replace the user agent, nothing more. */
function allowedHeaders(customHeaders: Record<string, string>): Record<string, string> {
  const allowed: Record<string, string> = {};
  for (const [name, value] of Object.entries(customHeaders)) {
    const lower = name.toLowerCase();
    if (!RESERVED_HEADER_NAMES.has(lower)) allowed[lower] = value;
  }
  return allowed;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === "TimeoutError" || error.name === "AbortError") return "Timed out waiting for the response";
  const code = (error as NodeJS.ErrnoException).code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code;
  return code ? `${code}: ${error.message}` : error.message;
}
