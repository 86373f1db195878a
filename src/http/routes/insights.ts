import type { FastifyInstance } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import { createAlertRule, deleteAlertRule, listAlertRules, type AlertRuleInput } from "../../domain/insight-alerts.ts";
import { connectionInsight, connectionsNeedingAttention, type InsightQuery } from "../../domain/insight.ts";
import { sendLinkReminder } from "../../domain/link-reminder.ts";
import { asId, type ClientId, type CompanyId, type ConnectionId, type InsightAlertId } from "../../ids.ts";
import { alertIdParams, alertRuleBody, attentionQuery, insightQuery } from "../../openapi/hookline/insights.ts";
import { pathParams } from "../schemas.ts";

/** Connection insight: the link funnel, the connections needing action, link reminders and alert rules. */
export function insightRoutes(app: FastifyInstance, ctx: AppContext): void {
  const clientOf = (request: { client: { id: string } }) => asId<ClientId>(request.client.id);

  app.get<{ Querystring: InsightQuery }>("/insights/connections", { schema: { querystring: insightQuery } }, (request) =>
    connectionInsight(ctx, clientOf(request), request.query),
  );

  app.get<{ Querystring: { limit?: number } }>("/insights/connections/attention", { schema: { querystring: attentionQuery } }, (request) =>
    connectionsNeedingAttention(ctx, clientOf(request), request.query.limit ?? 100),
  );

  app.post<{ Params: { companyId: string; connectionId: string } }>(
    "/companies/:companyId/connections/:connectionId/link-reminder",
    { schema: { params: pathParams("companyId", "connectionId") } },
    (request) => sendLinkReminder(ctx, clientOf(request), asId<CompanyId>(request.params.companyId), asId<ConnectionId>(request.params.connectionId)),
  );

  app.get("/insights/alerts", (request) => listAlertRules(ctx, clientOf(request)));

  app.post<{ Body: AlertRuleInput }>("/insights/alerts", { schema: { body: alertRuleBody } }, async (request, reply) =>
    reply.status(201).send(await createAlertRule(ctx, clientOf(request), request.body)),
  );

  app.delete<{ Params: { alertId: string } }>("/insights/alerts/:alertId", { schema: { params: alertIdParams } }, async (request, reply) => {
    await deleteAlertRule(ctx, clientOf(request), asId<InsightAlertId>(request.params.alertId));
    return reply.status(204).send();
  });
}
