import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import formbody from "@fastify/formbody";
import type { Logger } from "pino";
import type { HttpLimitsConfig } from "../config.ts";
import type { AppContext } from "../domain/context.ts";
import { apiKeyAuth } from "./auth.ts";
import { HooklineError } from "../errors.ts";
import { clientErrorHandler, errorHandler, newCorrelationId, rejectMalformedText, routeNotFound } from "./errors.ts";
import { utf8JsonParser } from "./json-body.ts";
import { requestValidator } from "./validation.ts";
import { metricsRoutes, type HooklineMetrics } from "./metrics.ts";
import { dailyQuota } from "./quota.ts";
import { apiKeyRoutes } from "./routes/api-keys.ts";
import { companyRoutes } from "./routes/companies.ts";
import { connectionRoutes } from "./routes/connections.ts";
import { eventRoutes } from "./routes/events.ts";
import { readinessRoutes } from "./routes/health.ts";
import { insightRoutes } from "./routes/insights.ts";
import { integrationRoutes } from "./routes/integrations.ts";
import { messageRoutes } from "./routes/messages.ts";
import { openapiRoutes } from "./routes/openapi.ts";
import { transformationRoutes } from "./routes/transformations.ts";
import { profileRoutes } from "./routes/profile.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { listenRoutes } from "./routes/listen.ts";
import { linkFormGuard } from "../web/link-forms.ts";
import { linkRoutes } from "../web/routes/link.ts";
import { portalRoutes } from "../web/routes/portal.ts";
import { pageSecurityPolicy } from "../web/render.ts";
import { portalAccessRoutes } from "./routes/portal-access.ts";
import { operatorRoutes } from "./routes/operator.ts";

/** The HTTP server: the authenticated API, the public link pages, the OpenAPI document and the operations endpoints. */
export async function buildHttpApp(ctx: AppContext, metrics: HooklineMetrics): Promise<FastifyInstance> {
  const { config } = ctx;
  const app = newApp(ctx.logger, config.httpLimits, config.bodyLimitBytes);
  await openapiRoutes(app, config.publicUrl);
  operationsRoutes(app, ctx, metrics);

  const guard = linkFormGuard(ctx);
  await app.register(async (link) => {
    await link.register(formbody);
    linkRoutes(link, ctx, guard);
  });
  await app.register(async (portal) => portalRoutes(portal, ctx));
  await app.register(async (operator) => operatorRoutes(operator, ctx));

  await app.register(async (api) => {
    api.addHook("onRequest", apiKeyAuth(ctx));
    if (config.dailyQuota) api.addHook("onRequest", dailyQuota(ctx, config.dailyQuota));
    api.addHook("preValidation", rejectMalformedText);
    companyRoutes(api, ctx);
    connectionRoutes(api, ctx);
    integrationRoutes(api, ctx);
    webhookRoutes(api, ctx);
    transformationRoutes(api, ctx);
    messageRoutes(api, ctx);
    apiKeyRoutes(api, ctx);
    eventRoutes(api, ctx);
    portalAccessRoutes(api, ctx);
    insightRoutes(api, ctx);
    profileRoutes(api, ctx);
    listenRoutes(api, ctx);
  });
  return app;
}

/** What a process without the API role serves, when asked to: only the operations endpoints, for its probes and its metrics. */
export function buildOperationsApp(ctx: AppContext, metrics: HooklineMetrics): FastifyInstance {
  const app = newApp(ctx.logger, ctx.config.httpLimits);
  operationsRoutes(app, ctx, metrics);
  return app;
}

/** Liveness, readiness and the Prometheus metrics: no API key, keep them off the public internet. */
function operationsRoutes(app: FastifyInstance, ctx: AppContext, metrics: HooklineMetrics): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  readinessRoutes(app, ctx.store);
  metricsRoutes(app, metrics);
}

/**
 * Headers of every HTML page the server serves: no script runs, no other site
 * may frame it (clickjacking), its forms post only back here, and the link
 * ids in its URL never reach another site in a Referer. `same-origin` rather
 * than `no-referrer`: under `no-referrer` browsers send `Origin: null` with the
 * page's own form posts, and the link forms' guard checks Origin.
 */
const PAGE_HEADERS = {
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "x-content-type-options": "nosniff",
};

/**
 * A request as its log lines show it. A link page's URL holds the ids that
 * open it to anyone, and a portal access link's URL its token, so for those
 * the route is logged instead of the URL.
 */
function requestForLog(request: FastifyRequest) {
  const hidden = request.url.startsWith("/link/") || request.url.startsWith("/portal/open?");
  const url = hidden ? (request.routeOptions.url ?? "/link/(unknown route)") : request.url;
  return { method: request.method, url, host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort };
}

/** A Fastify instance with Hookline's request ids, validation, limits and one error shape. */
function newApp(logger: Logger, limits: HttpLimitsConfig, bodyLimitBytes?: number): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger.child({}, { serializers: { req: requestForLog } }) as FastifyBaseLogger,
    bodyLimit: bodyLimitBytes,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    http: {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.requestTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node looks for expired requests only this often (every 30 s by default), so a timeout would otherwise be enforced up to 30 s late.
      connectionsCheckingInterval: Math.min(1_000, limits.requestTimeoutMs),
    },
    genReqId: newCorrelationId,
    // Every log line of a request carries the id its answer returns as x-correlation-id and ErrorMessage.correlationId.
    logController: new LogController({ requestIdLogLabel: "correlationId" }),
    // Answered by the onRequest hook below instead, in the ErrorMessage shape.
    return503OnClosing: false,
    // Malformed percent-encoding and overlong path parameters are answered before routing; they too get the ErrorMessage shape.
    frameworkErrors: errorHandler,
    // So do requests Node refuses before Fastify sees them: too slow (408), headers too large (431), not HTTP (400).
    clientErrorHandler,
  });
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, utf8JsonParser(app));
  app.setValidatorCompiler(requestValidator());
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(routeNotFound);
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async () => {
    // Fastify has already asked the client to close the connection; another process (or this one, restarted) takes the retry.
    if (closing) throw new HooklineError(503, "The server is shutting down; try again", [], "Yes");
  });
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-correlation-id", request.id);
    if (String(reply.getHeader("content-type") ?? "").startsWith("text/html")) {
      reply.headers(PAGE_HEADERS);
      // A page may have set its own (a link page showing the client's logo); the portal sets its own after this.
      if (!reply.hasHeader("content-security-policy")) reply.header("content-security-policy", pageSecurityPolicy());
    }
  });
  return app;
}
