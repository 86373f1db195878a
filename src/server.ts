import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { systemClock, type Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { DestinationPolicy } from "./delivery/destination-policy.ts";
import { batchMetrics } from "./delivery/metrics.ts";
import { startSenderThread } from "./delivery/thread.ts";
import { DeliveryWorker } from "./delivery/worker.ts";
import type { DomainContext } from "./domain/context.ts";
import { startQuotaResets } from "./domain/quota.ts";
import { startRetention } from "./domain/retention.ts";
import { buildHttpApp, buildOperationsApp } from "./http/app.ts";
import { HooklineMetrics } from "./http/metrics.ts";
import { createLogger } from "./logger.ts";
import { Store } from "./storage/database.ts";
import { secretBoxFor } from "./secret-box.ts";

export interface Hookline {
  ctx: DomainContext;
  http: FastifyInstance | undefined;
  logger: Logger;
  /** Stops taking requests and work, lets attempts in flight finish and record, then closes the database. */
  close(): Promise<void>;
}

export async function openContext(config: Config, clock: Clock = systemClock): Promise<DomainContext> {
  const store = await Store.open(config.databaseUrl, { sqliteSynchronous: config.sqliteSynchronous });
  await store.migrate();
  return {
    store,
    clock,
    publicUrl: config.publicUrl,
    destinations: new DestinationPolicy(config.allowedCidrs),
    recoveryRatePerSecond: config.messages.recoveryRatePerSecond,
    secretBox: secretBoxFor(config.consumers.encryptionKey),
    secretRotationOverlapMs: config.consumers.secretRotationOverlapMs,
    limits: config.limits,
  };
}

export interface StartOptions {
  clock?: Clock;
  /** Where JSON log lines go (standard output by default). */
  logDestination?: NodeJS.WritableStream;
}

/**
 * Starts the roles the configuration asks for (API, worker, or both) on one
 * database. The worker claims and records on the main thread, beside the
 * API, and a thread of its own signs and sends.
 */
export async function startHookline(config: Config, options: StartOptions = {}): Promise<Hookline> {
  const logDestination = options.logDestination ?? process.stdout;
  const logger = createLogger(config.logLevel, logDestination);
  const ctx = await openContext(config, options.clock);
  let http: FastifyInstance | undefined;
  const metrics = new HooklineMetrics(ctx.store, ctx.clock);
  if (config.roles.api) {
    http = await buildHttpApp(ctx, { bodyLimitBytes: config.bodyLimitBytes, limits: config.httpLimits, logger, metrics, dailyQuota: config.dailyQuota, idempotencyKeyTtlMs: config.idempotencyKeyTtlMs });
    await http.listen({ host: config.host, port: config.port });
  } else if (config.metricsPort !== null) {
    http = buildOperationsApp(ctx, { logger, metrics, limits: config.httpLimits });
    await http.listen({ host: config.host, port: config.metricsPort });
  }
  // Every API process runs the quota reset at each window boundary; the database hands each reset to one of them.
  const quotaResets = config.roles.api && config.dailyQuota ? startQuotaResets(ctx, config.dailyQuota, logger) : undefined;
  const worker = config.roles.worker ? await startWorker(config, ctx, logger, metrics) : undefined;
  return {
    ctx,
    http,
    logger,
    async close() {
      await http?.close();
      await quotaResets?.stop();
      await worker?.stop();
      await ctx.store.close();
    },
  };
}

/** The worker role: the delivery worker, its sender thread, and the purge of expired payloads and their copies. */
async function startWorker(config: Config, ctx: DomainContext, logger: Logger, metrics: HooklineMetrics): Promise<{ stop(): Promise<void> }> {
  const sender = await startSenderThread(config, logger);
  const worker = new DeliveryWorker(ctx.store, config.delivery, ctx.clock, sender, logger.child({ component: "worker" }), (updates) => metrics.recordDeliveries(batchMetrics(updates)));
  await worker.start();
  const retention = startRetention(ctx.store, config, ctx.clock, logger.child({ component: "worker" }));
  return {
    async stop() {
      await worker.stop();
      await retention.stop();
      await sender.stop();
    },
  };
}
