import { rootCertificates } from "node:tls";
import { Agent, type Dispatcher } from "undici";
import type { SecretBox } from "../secret-box.ts";
import type { StoredClientCertificate } from "../storage/deliveries/claim-batch.ts";
import { refusal, type DestinationPolicy } from "../domain/destination-policy.ts";

export interface SendResult {
  statusCode: number | null;
  durationMs: number;
  responseExcerpt: string | null;
  error: string | null;
  succeeded: boolean;
  /** The answer's Retry-After header when it was a 429 or 503: when the receiver asks to be tried again. */
  retryAfter: string | null;
}

export interface SendRequest {
  /** POST unless said otherwise. */
  method?: "POST" | "PUT";
  url: string;
  /** Every header of the request, the signature's included. */
  headers: Record<string, string>;
  body: Buffer;
  /** Presented as the TLS client certificate (mTLS). */
  clientCertificate?: StoredClientCertificate | null;
}

export interface SenderTls {
  /** PEM CA certificates trusted besides Node's bundled roots (HOOKLINE_EXTRA_CA_FILE). */
  extraCa: string | null;
  /** Opens the sealed mTLS private keys. */
  secretBox: SecretBox;
}

/** Distinct consumer URLs kept parsed; past this the cache starts over. */
const TARGET_CACHE_SIZE = 10_000;

interface Target {
  origin: string;
  path: string;
  refusedLiteral: boolean;
}

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
  private readonly targets = new Map<string, Target>();

  constructor(
    private readonly destinations: DestinationPolicy,
    /** How long an attempt may take once it is written to a connection: to connect, and to get the answer. */
    private readonly timeoutMs: number,
    private readonly excerptBytes: number,
    private readonly tls: SenderTls,
    /**
     * How long an attempt may take in all, waiting for a free connection to
     * its consumer included, so that a batch ends (and is recorded) while its
     * lease holds. Past it an attempt still waiting is given up unsent.
     */
    private readonly giveUpAfterMs: number,
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
    let key: string;
    try {
      key = this.tls.secretBox.open(sealedKey, "mtls-private-key", consumerId);
    } catch {
      throw new Error("The consumer's mTLS key cannot be decrypted: HOOKLINE_ENCRYPTION_KEY does not list the key it was stored with");
    }
    if (cached) void cached.agent.close();
    const agent = this.newAgent({ cert: certificate, key });
    this.certificateAgents.set(consumerId, { sealedKey, agent });
    return agent;
  }

  async send({ method = "POST", url, headers, body, clientCertificate }: SendRequest): Promise<SendResult> {
    let target: Target;
    let dispatcher: Agent;
    try {
      target = this.targetOf(url);
      dispatcher = clientCertificate ? this.agentFor(clientCertificate) : this.agent;
    } catch (error) {
      return unsent(describe(error));
    }
    // The policy's lookup guards hostnames at connect time; literal IP addresses skip DNS, so they are checked here.
    if (target.refusedLiteral) return unsent(describe(refusal()));
    return new Promise<SendResult>((resolve) => {
      const attempt = new AttemptHandler(this.timeoutMs, this.giveUpAfterMs, this.excerptBytes, resolve);
      dispatcher.dispatch(
        {
          origin: target.origin,
          path: target.path,
          method,
          headers,
          body,
        },
        attempt,
      );
    });
  }

  /**
   * A consumer URL taken apart once: every delivery to a consumer repeats it,
   * and parsing it (and checking a literal address) per request showed in profiles.
   */
  private targetOf(url: string): Target {
    let target = this.targets.get(url);
    if (target === undefined) {
      const parsed = new URL(url);
      target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, refusedLiteral: this.destinations.isRefusedLiteral(parsed) };
      if (this.targets.size >= TARGET_CACHE_SIZE) this.targets.clear();
      this.targets.set(url, target);
    }
    return target;
  }

  async close(): Promise<void> {
    await Promise.all([this.agent, ...[...this.certificateAgents.values()].map((entry) => entry.agent)].map((agent) => agent.close()));
  }
}

/** An attempt that failed before anything was sent. */
export function unsent(error: string): SendResult {
  return { statusCode: null, durationMs: 0, responseExcerpt: null, succeeded: false, error, retryAfter: null };
}

/**
 * One attempt on undici's dispatch API: the status and the first bytes of the
 * answer are all Hookline keeps, so the response is read as it arrives rather
 * than through a body stream, and the attempt settles exactly once: on the
 * answer's end, on its first excerptBytes (the rest is not read), on an error
 * or at a deadline, whichever comes first. Its own deadline starts when it is
 * written to a connection: requests queued behind a slow consumer's busy
 * connections are not failed for the time they waited, only bounded by the
 * sender's give-up time.
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  private readonly giveUp: NodeJS.Timeout;
  private deadline: NodeJS.Timeout | undefined;
  /** When the request was written to a connection; its duration counts from there. */
  private sentAt: number | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private statusCode: number | null = null;
  /** What a failed answer's headers add to its recorded error: a redirect's target, a throttling answer's Retry-After. */
  private said: { location: string | null; retryAfter: string | null } = { location: null, retryAfter: null };
  private readonly chunks: Buffer[] = [];
  private received = 0;
  private settled = false;

  constructor(
    private readonly timeoutMs: number,
    giveUpAfterMs: number,
    private readonly excerptBytes: number,
    private readonly resolve: (result: SendResult) => void,
  ) {
    this.giveUp = setTimeout(() => this.timeOut(), giveUpAfterMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Given up while it waited for a connection: it is not sent at all.
    if (this.settled) {
      controller.abort(new Error("attempt already settled"));
      return;
    }
    this.sentAt = performance.now();
    this.deadline = setTimeout(() => this.timeOut(), this.timeoutMs);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.statusCode = statusCode;
    if (statusCode >= 300 && statusCode < 400) this.said.location = headerValue(headers.location);
    if (statusCode === 429 || statusCode === 503) this.said.retryAfter = headerValue(headers["retry-after"]);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // Copied down to what the excerpt keeps: a chunk may be a view of a much larger socket read.
    const room = this.excerptBytes - this.received;
    if (room > 0) this.chunks.push(Buffer.from(chunk.subarray(0, room)));
    this.received += chunk.length;
    if (this.received >= this.excerptBytes) {
      this.finish();
      controller.abort(new Error("excerpt complete"));
    }
  }

  onResponseEnd(): void {
    this.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.acknowledged()) this.finish();
    else this.settle({ statusCode: null, responseExcerpt: null, succeeded: false, error: describe(error) });
  }

  /** The receiver answered with a 2xx status: the attempt succeeded, whatever becomes of the rest of the answer. */
  private acknowledged(): boolean {
    return this.statusCode !== null && this.statusCode >= 200 && this.statusCode < 300;
  }

  private timeOut(): void {
    if (this.acknowledged()) {
      this.finish();
      this.controller?.abort(new Error("response body timed out"));
      return;
    }
    const error = this.sentAt === undefined ? "Not sent: no connection to the consumer came free in time" : "Timed out waiting for the response";
    this.settle({ statusCode: null, responseExcerpt: null, succeeded: false, error });
    this.controller?.abort(new Error("attempt timed out"));
  }

  private finish(): void {
    const statusCode = this.statusCode!;
    const succeeded = statusCode >= 200 && statusCode < 300;
    // Receivers may answer binary content; PostgreSQL text cannot hold NUL, and one such excerpt would fail its whole batch's record.
    const excerpt = this.received === 0 ? "" : Buffer.concat(this.chunks).toString("utf8").replaceAll("\u0000", "\uFFFD");
    this.settle({
      statusCode,
      responseExcerpt: excerpt,
      succeeded,
      error: succeeded ? null : failedAnswer(statusCode, this.said),
      retryAfter: this.said.retryAfter,
    });
  }

  private settle(result: Omit<SendResult, "durationMs" | "retryAfter"> & { retryAfter?: string | null }): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.giveUp);
    clearTimeout(this.deadline);
    this.resolve({ retryAfter: null, ...result, durationMs: this.sentAt === undefined ? 0 : Math.round(performance.now() - this.sentAt) });
  }
}

/** Longest header value kept in an attempt's error: enough to recognise a URL or a date, not a place to store a receiver's output. */
const MAX_HEADER_IN_ERROR = 300;

const headerValue = (value: string | string[] | undefined): string | null => {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? null : first.slice(0, MAX_HEADER_IN_ERROR);
};

/** A non-2xx answer as its attempt records it: the status, and where a redirect pointed or when a throttling receiver asked to be tried again. */
function failedAnswer(statusCode: number, said: { location: string | null; retryAfter: string | null }): string {
  if (said.location !== null) return `HTTP ${statusCode}: redirect to ${said.location} not followed`;
  if (said.retryAfter !== null) return `HTTP ${statusCode}, Retry-After: ${said.retryAfter}`;
  return `HTTP ${statusCode}`;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code;
  return code ? `${code}: ${error.message}` : error.message;
}
