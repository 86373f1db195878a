import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import formbody from "@fastify/formbody";
import type { Logger } from "pino";
import type { DailyQuotaConfig } from "../config.ts";
import type { DomainContext } from "../domain/context.ts";
import { apiKeyAuth } from "./auth.ts";
import { errorHandler, rejectMalformedText, routeNotFound } from "./errors.ts";
import { requestValidator } from "./validation.ts";
import { metricsRoutes, type HooklineMetrics } from "./metrics.ts";
import { dailyQuota } from "./quota.ts";
import { apiKeyRoutes } from "./routes/api-keys.ts";
import { companyRoutes } from "./routes/companies.ts";
import { connectionRoutes } from "./routes/connections.ts";
import { eventRoutes } from "./routes/events.ts";
import { readinessRoutes } from "./routes/health.ts";
import { integrationRoutes } from "./routes/integrations.ts";
import { linkRoutes } from "./routes/link.ts";
import { messageRoutes } from "./routes/messages.ts";
import { openapiRoutes } from "./routes/openapi.ts";
import { webhookRoutes } from "./routes/webhooks.ts";

export interface HttpOptions {
  bodyLimitBytes: number;
  logger: Logger;
  metrics: HooklineMetrics;
  dailyQuota: DailyQuotaConfig | null;
  idempotencyKeyTtlMs: number;
}

/** The HTTP server: the authenticated API, the public link pages, the OpenAPI document and the operations endpoints. */
export async function buildHttpApp(ctx: DomainContext, options: HttpOptions): Promise<FastifyInstance> {
  const app = newApp(options.logger, options.bodyLimitBytes);
  openapiRoutes(app, ctx.publicUrl);
  operationsRoutes(app, ctx, options.metrics);

  await app.register(async (link) => {
    await link.register(formbody);
    linkRoutes(link, ctx);
  });

  await app.register(async (api) => {
    api.addHook("onRequest", apiKeyAuth(ctx));
    if (options.dailyQuota) api.addHook("onRequest", dailyQuota(ctx, options.dailyQuota));
    api.addHook("preValidation", rejectMalformedText);
    companyRoutes(api, ctx);
    connectionRoutes(api, ctx);
    integrationRoutes(api, ctx);
    webhookRoutes(api, ctx);
    messageRoutes(api, ctx);
    apiKeyRoutes(api, ctx);
    eventRoutes(api, ctx, { idempotencyKeyTtlMs: options.idempotencyKeyTtlMs });
  });
  return app;
}

/** What a process without the API role serves, when asked to: only the operations endpoints, for its probes and its metrics. */
export function buildOperationsApp(ctx: DomainContext, options: Pick<HttpOptions, "logger" | "metrics">): FastifyInstance {
  const app = newApp(options.logger);
  operationsRoutes(app, ctx, options.metrics);
  return app;
}

/** Liveness, readiness and the Prometheus metrics: no API key, keep them off the public internet. */
function operationsRoutes(app: FastifyInstance, ctx: DomainContext, metrics: HooklineMetrics): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  readinessRoutes(app, ctx.store);
  metricsRoutes(app, metrics);
}

/** A Fastify instance with Hookline's request ids, validation and one error shape. */
function newApp(logger: Logger, bodyLimitBytes?: number): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: bodyLimitBytes,
    genReqId: () => randomUUID().replace(/-/g, ""),
    // Every log line of a request carries the id its answer returns as x-correlation-id and ErrorMessage.correlationId.
    logController: new LogController({ requestIdLogLabel: "correlationId" }),
    return503OnClosing: true,
    // Malformed percent-encoding and overlong path parameters are answered before routing; they too get the ErrorMessage shape.
    frameworkErrors: errorHandler,
  });
  app.setValidatorCompiler(requestValidator());
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(routeNotFound);
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-correlation-id", request.id);
  });
  return app;
}
