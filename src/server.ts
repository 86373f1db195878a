import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { systemClock, type Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { DestinationPolicy } from "./delivery/destination-policy.ts";
import { WebhookSender } from "./delivery/sender.ts";
import { DeliveryWorker } from "./delivery/worker.ts";
import type { DomainContext } from "./domain/context.ts";
import { buildHttpApp } from "./http/app.ts";
import { createLogger } from "./logger.ts";
import { Store } from "./storage/database.ts";

export interface Hookline {
  ctx: DomainContext;
  http: FastifyInstance | undefined;
  worker: DeliveryWorker | undefined;
  logger: Logger;
  /** Stops taking requests and work, lets attempts in flight finish and record, then closes the database. */
  close(): Promise<void>;
}

export async function openContext(config: Config, clock: Clock = systemClock): Promise<DomainContext> {
  const store = await Store.open(config.databaseUrl, { sqliteSynchronous: config.sqliteSynchronous });
  await store.migrate();
  return { store, clock, publicUrl: config.publicUrl, destinations: new DestinationPolicy(config.allowedCidrs) };
}

/** Starts the roles the configuration asks for (API, worker, or both) on one database. */
export async function startHookline(config: Config, options: { clock?: Clock; logger?: Logger } = {}): Promise<Hookline> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const ctx = await openContext(config, options.clock);
  let http: FastifyInstance | undefined;
  let worker: DeliveryWorker | undefined;
  let sender: WebhookSender | undefined;
  if (config.roles.api) {
    http = await buildHttpApp(ctx, { bodyLimitBytes: config.bodyLimitBytes, logger });
    await http.listen({ host: config.host, port: config.port });
  }
  if (config.roles.worker) {
    sender = new WebhookSender(ctx.destinations, config.delivery.attemptTimeoutMs, config.delivery.responseExcerptBytes);
    worker = new DeliveryWorker(ctx.store, config.delivery, ctx.clock, sender, logger.child({ component: "worker" }));
    await worker.start();
  }
  return {
    ctx,
    http,
    worker,
    logger,
    async close() {
      await http?.close();
      await worker?.stop();
      await sender?.close();
      await ctx.store.close();
    },
  };
}
