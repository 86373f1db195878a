import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Clock } from "../clock.ts";
import type { DeliveryMetricsDelta } from "../delivery/metrics.ts";
import type { Store } from "../storage/database.ts";
import { deliveryBacklog, type DeliveryBacklog } from "../storage/delivery-backlog.ts";

export const METRICS_PATH = "/metrics";

/**
 * What `/metrics` serves in Prometheus' text format: this process's worker's
 * counters (added after each recorded batch), HTTP request counts
 * and durations, the process' own metrics, and the delivery queue's depth and
 * lag, read from the database at scrape time so every API process reports
 * the whole queue.
 */
export class HooklineMetrics {
  readonly registry = new Registry();
  private readonly deliveryOutcomes = new Counter({
    name: "hookline_delivery_outcomes_total",
    help: "Due deliveries handled by this process's worker, by outcome: success, retrying (failed, retry scheduled), failed (no retry left), skipped (consumer disabled)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  private readonly attemptDuration = new Histogram({
    name: "hookline_delivery_attempt_duration_seconds",
    help: "Time from sending a webhook to its answer (or failure)",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
    registers: [this.registry],
  });
  private readonly pending = new Gauge({
    name: "hookline_deliveries_pending",
    help: "Deliveries waiting for an attempt, due now or later (all processes)",
    registers: [this.registry],
  });
  private readonly oldestDueAge = new Gauge({
    name: "hookline_oldest_due_delivery_age_seconds",
    help: "How long the longest-waiting due delivery has been due; 0 when none is due",
    registers: [this.registry],
  });
  private readonly parked = new Gauge({
    name: "hookline_deliveries_parked",
    help: "Pending deliveries parked, spending no attempt, by reason: circuit (held by an open circuit), line (waiting in a fifo line), slot (waiting for a slow consumer's free slot), listen (for a listening CLI's stream) (all processes)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  private readonly openCircuits = new Gauge({
    name: "hookline_consumer_circuits_open",
    help: "Webhook consumers whose circuit breaker is open (all processes)",
    registers: [this.registry],
  });
  private readonly httpRequests = new Counter({
    name: "hookline_http_requests_total",
    help: "HTTP requests answered, by method, route and status code",
    labelNames: ["method", "route", "status_code"] as const,
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: "hookline_http_request_duration_seconds",
    help: "Time to answer HTTP requests, by method and route",
    labelNames: ["method", "route"] as const,
    registers: [this.registry],
  });

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** How long a read of the queue gauges is reused (HOOKLINE_METRICS_QUEUE_REFRESH). */
    private readonly queueRefreshMs: number,
  ) {
    collectDefaultMetrics({ register: this.registry });
  }

  recordDeliveries(delta: DeliveryMetricsDelta): void {
    for (const [outcome, count] of Object.entries(delta.outcomes)) this.deliveryOutcomes.inc({ outcome }, count);
    for (const durationMs of delta.durationsMs) this.attemptDuration.observe(durationMs / 1000);
  }

  recordRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status_code: String(statusCode) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  /** The queue gauges as last read, and when; every scrape within the refresh period shares that read. */
  private backlog: { readAt: number; value: Promise<DeliveryBacklog> } | undefined;

  /**
   * The queue as read at most a refresh period ago. Counting the pending
   * deliveries reads every entry of their index: about 75 ms on SQLite (which
   * holds the process's event loop meanwhile) and 150 ms on PostgreSQL with a
   * million queued, so however often /metrics is scraped, it is read at most
   * once per period. A failed read is not kept.
   */
  private readBacklog(): Promise<DeliveryBacklog> {
    const now = this.clock.now();
    if (this.backlog === undefined || now - this.backlog.readAt >= this.queueRefreshMs) {
      const value = deliveryBacklog(this.store.db);
      this.backlog = { readAt: now, value };
      value.catch(() => (this.backlog = undefined));
    }
    return this.backlog.value;
  }

  /** The exposition text, with the queue gauges read now (or in the last few seconds). */
  async scrape(): Promise<string> {
    const { pending, earliestDueAt, parked, openCircuits } = await this.readBacklog();
    this.pending.set(pending);
    for (const [reason, count] of Object.entries(parked)) this.parked.set({ reason }, count);
    this.openCircuits.set(openCircuits);
    this.oldestDueAge.set(earliestDueAt === null ? 0 : Math.max(this.clock.now() - earliestDueAt, 0) / 1000);
    return this.registry.metrics();
  }
}

/** Serves /metrics (unauthenticated, like /healthz: it names no client and no secret) and counts every request. */
export function metricsRoutes(app: FastifyInstance, metrics: HooklineMetrics): void {
  app.addHook("onResponse", async (request, reply) => {
    metrics.recordRequest(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get(METRICS_PATH, async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.scrape()));
}
