import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { systemClock, type Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { perClientLimits } from "./domain/per-client-limit.ts";
import { DestinationPolicy } from "./domain/destination-policy.ts";
import { batchMetrics } from "./delivery/metrics.ts";
import { startSenderThread } from "./delivery/thread.ts";
import { DeliveryWorker } from "./delivery/worker.ts";
import type { AppContext } from "./domain/context.ts";
import { TransformationRunner } from "./domain/transformations/runner.ts";
import { buildHttpApp, buildOperationsApp } from "./http/app.ts";
import { HooklineMetrics } from "./http/metrics.ts";
import { startInsightAlertJob } from "./jobs/insight-alerts.ts";
import { startListenSweepJob } from "./jobs/listen-sweep.ts";
import { startQuotaResetJob } from "./jobs/quota-reset.ts";
import { startRetentionJob } from "./jobs/retention.ts";
import { startSlotReleaseJob } from "./jobs/slot-release.ts";
import { startTokenRefreshJob } from "./jobs/token-refresh.ts";
import { createLogger } from "./logger.ts";
import { Store } from "./storage/database.ts";
import { SecretBox } from "./secret-box.ts";
import { withEncryptionKeys } from "./storage/encryption-keys.ts";
import { resealSecrets } from "./domain/reseal-secrets.ts";
import { linkStepsWritten } from "./domain/link-funnel.ts";
import { loadIntegrations } from "./integrations/integrations-file.ts";
import { recordPublicUrl } from "./storage/server-settings.ts";

export interface Hookline {
  ctx: AppContext;
  http: FastifyInstance | undefined;
  logger: Logger;
  /** Stops taking requests and work, lets attempts in flight finish and record, then closes the database. */
  close(): Promise<void>;
}

/**
 * Opens the database, migrates it and seals any secrets an earlier release
 * stored in plaintext. Throws before touching the database when there is no
 * encryption key to be had (PostgreSQL without HOOKLINE_ENCRYPTION_KEY).
 */
export async function openContext(config: Config, log: Logger, clock: Clock = systemClock): Promise<AppContext> {
  const secretBox = new SecretBox(withEncryptionKeys(config, log).consumers.encryptionKeys);
  const destinations = new DestinationPolicy(config.allowedCidrs);
  // Before the database: a bad integrations file stops the start without touching it.
  const integrations = loadIntegrations(config.integrations.file, secretBox, destinations, () => clock.now());
  const store = await Store.open(config.databaseUrl, {
    sqliteSynchronous: config.sqliteSynchronous,
    postgresSynchronousCommit: config.postgresSynchronousCommit,
    logger: log,
  });
  await store.migrate();
  const { resealed } = await resealSecrets(store, secretBox, "plaintext");
  const sealed = Object.values(resealed).reduce((sum, count) => sum + count, 0);
  if (sealed > 0) log.info({ resealed }, `Encrypted ${sealed} consumer secrets stored in plaintext by an earlier release`);
  if (!(await store.reclaimsDeletedRows())) {
    log.warn(
      "PostgreSQL's autovacuum is off: the space of the messages, deliveries and attempts retention deletes is never reused, so the database grows without end. Turn it on, or VACUUM those tables on a schedule (README, What is kept)",
    );
  }
  return {
    config,
    store,
    clock,
    secretBox,
    destinations,
    logger: log,
    integrations,
    transformations: new TransformationRunner(config.transformations),
    limits: perClientLimits(),
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
export async function startHookline(configured: Config, options: StartOptions = {}): Promise<Hookline> {
  const logDestination = options.logDestination ?? process.stdout;
  const logger = createLogger(configured.logLevel, logDestination);
  // Resolved once here: the sender thread needs the same keys, the generated one included.
  const config = withEncryptionKeys(configured, logger);
  const ctx = await openContext(config, logger, options.clock);
  let http: FastifyInstance | undefined;
  const metrics = new HooklineMetrics(ctx.store, ctx.clock, config.metricsQueueRefreshMs);
  if (config.roles.api) {
    http = await buildHttpApp(ctx, metrics);
    await http.listen({ host: config.host, port: config.port });
    // For the CLI: links in the events it publishes point here even when its own settings do not say so.
    await recordPublicUrl(ctx.store, config.publicUrl, ctx.clock.now());
  } else if (config.metricsPort !== null) {
    http = buildOperationsApp(ctx, metrics);
    await http.listen({ host: config.host, port: config.metricsPort });
  }
  // Every API process starts the quota reset; the database hands each boundary's run to one of them.
  const quotaResets = config.roles.api && config.dailyQuota ? startQuotaResetJob(ctx, config.dailyQuota) : undefined;
  const worker = config.roles.worker ? await startWorker(ctx, metrics) : undefined;
  // Connection insight alert rules: every API process starts the job; one evaluates each interval.
  const insightAlerts = config.roles.api ? startInsightAlertJob(ctx) : undefined;
  const listenSweep = config.roles.api ? startListenSweepJob(ctx) : undefined;
  return {
    ctx,
    http,
    logger,
    async close() {
      const started = ctx.clock.now();
      logger.info("shutting down: no new requests or deliveries are taken; attempts in flight finish and are recorded");
      await http?.close();
      await quotaResets?.stop();
      await worker?.stop();
      await ctx.transformations.stop();
      await insightAlerts?.stop();
      await listenSweep?.stop();
      await linkStepsWritten(ctx.store);
      await ctx.store.close();
      logger.info({ durationMs: ctx.clock.now() - started }, "shut down gracefully");
    },
  };
}

/** The worker role: the delivery worker, its sender thread, and the purge of expired payloads and their copies. */
async function startWorker(ctx: AppContext, metrics: HooklineMetrics): Promise<{ stop(): Promise<void> }> {
  const sender = await startSenderThread(ctx.config, ctx.logger);
  const worker = new DeliveryWorker(ctx, sender, (updates) => metrics.recordDeliveries(batchMetrics(updates)));
  await worker.start();
  const retention = startRetentionJob(ctx);
  const slotRelease = startSlotReleaseJob(ctx);
  const tokenRefresh = startTokenRefreshJob(ctx);
  return {
    async stop() {
      await worker.stop();
      await retention.stop();
      await slotRelease.stop();
      await tokenRefresh.stop();
      await sender.stop();
    },
  };
}
