import type { FastifyInstance, FastifyRequest } from "fastify";
import { ACTIVITY_PERIODS, activityPeriod, clientActivity, type ActivityPeriod } from "../../domain/activity.ts";
import { createApiKey, deleteApiKey, listApiKeys } from "../../domain/clients.ts";
import { listConsumers } from "../../domain/consumers.ts";
import { getCompany, listCompanies } from "../../domain/companies.ts";
import type { AppContext } from "../../domain/context.ts";
import { describeCatalog } from "../../domain/events/catalog-view.ts";
import { listMessages } from "../../domain/messages.ts";
import { notFound } from "../../errors.ts";
import { asId, type ApiKeyId, type CompanyId, type ConsumerId } from "../../ids.ts";
import { field, frameFor } from "../portal/frame.ts";
import { schemaTree, shortDescription } from "../portal/schema-tree.ts";
import { seesConsumer, type CsrfGuard } from "../portal/session.ts";
import { renderPage } from "../render.ts";

type Form = { Body: Record<string, unknown> | undefined };

const COMPANIES_PAGE_SIZE = 25;

/**
 * The search box's words in the API's query language: `key=value` is a tag
 * (or `name=...`, `id=...`), anything else a part of the name.
 */
export function companySearchQuery(search: string): string | undefined {
  const text = search.trim();
  if (text === "") return undefined;
  const quoted = (value: string) => (/[\s&|]/.test(value) ? `"${value}"` : value);
  const tag = /^([^=~<>!]+)=(.*)$/.exec(text);
  return tag ? `${tag[1]!.trim()} = ${quoted(tag[2]!.trim())}` : `name ~ ${quoted(text)}`;
}

/** The catalog, companies, activity and API keys pages. */
export function portalPageRoutes(app: FastifyInstance, ctx: AppContext, guard: CsrfGuard): void {
  app.get("/portal/catalog", async (request, reply) => {
    const entries = describeCatalog().results.map((entry) => ({
      ...entry,
      // Some of Codat's descriptions run on into a markdown table: the first sentence says what the event is.
      description: shortDescription(entry.description) ?? "",
      tree: schemaTree(entry.schema as Record<string, unknown>),
      exampleJson: JSON.stringify(entry.example, null, 2),
    }));
    return renderPage(reply, "portal/catalog", { frame: frameFor(request, guard, "catalog", "Event catalog"), entries });
  });

  app.get<{ Querystring: { search?: string; page?: string } }>("/portal/companies", async (request, reply) => {
    const search = request.query.search ?? "";
    const page = Math.max(1, Number.parseInt(request.query.page ?? "1", 10) || 1);
    const list = await listCompanies(ctx, request.portalSession.clientId, {
      page,
      pageSize: COMPANIES_PAGE_SIZE,
      query: companySearchQuery(search),
      orderBy: "-created",
    });
    const pageUrl = (number: number) => `/portal/companies?${new URLSearchParams({ ...(search ? { search } : {}), page: String(number) })}`;
    return renderPage(reply, "portal/companies", {
      frame: frameFor(request, guard, "companies", "Companies"),
      companies: list.results,
      search,
      page,
      total: list.totalResults,
      nextPage: page * COMPANIES_PAGE_SIZE < list.totalResults ? pageUrl(page + 1) : null,
      previousPage: page > 1 ? pageUrl(page - 1) : null,
    });
  });

  // The `links.portal` URL every event about a company carries.
  app.get<{ Params: { companyId: string } }>("/portal/companies/:companyId/summary", async (request, reply) => {
    const session = request.portalSession;
    const company = await getCompany(ctx, session.clientId, asId<CompanyId>(request.params.companyId));
    const recent = await listMessages(ctx, session.clientId, { companyId: company.id }, { limit: 10 });
    // A session limited to some consumers sees only their deliveries of these messages.
    const messages = recent.results
      .map((message) => ({ ...message, deliveries: message.deliveries.filter((delivery) => seesConsumer(session, delivery.webhookId)) }))
      .filter((message) => session.consumerIds === null || message.deliveries.length > 0);
    return renderPage(reply, "portal/company", { frame: frameFor(request, guard, "companies", company.name), company, messages });
  });

  app.get<{ Querystring: { period?: string; consumer?: string } }>("/portal/activity", async (request, reply) => {
    const session = request.portalSession;
    const consumers = (await listConsumers(ctx, session.clientId)).results.filter((consumer) => seesConsumer(session, asId<ConsumerId>(consumer.id ?? "")));
    const chosen = request.query.consumer || undefined;
    if (chosen !== undefined && !consumers.some((consumer) => consumer.id === chosen)) throw notFound("Webhook consumer");
    // One consumer, or every consumer the session sees.
    const scope = chosen !== undefined ? [asId<ConsumerId>(chosen)] : (session.consumerIds ?? undefined);
    const activity = await clientActivity(ctx, session.clientId, activityPeriod(request.query.period), scope);
    return renderPage(reply, "portal/activity", {
      frame: frameFor(request, guard, "activity", "Activity"),
      activity,
      periods: Object.keys(ACTIVITY_PERIODS) as ActivityPeriod[],
      chart: JSON.stringify(activity.series),
      consumers: consumers.map((consumer) => ({ id: consumer.id ?? "", url: consumer.url ?? "" })),
      consumer: chosen ?? null,
    });
  });

  /** API keys are managed only by a session signed in with one: an embedded portal never mints keys. */
  const keySession = (request: FastifyRequest) => {
    if (request.portalSession.apiKeyId === null) throw notFound("Page");
    return request.portalSession;
  };

  app.get("/portal/api-keys", async (request, reply) => {
    const session = keySession(request);
    return renderPage(reply, "portal/api-keys", {
      frame: frameFor(request, guard, "api-keys", "API keys"),
      keys: await listApiKeys(ctx, session.clientId),
      created: null,
    });
  });

  app.post<Form>("/portal/api-keys", async (request, reply) => {
    const session = keySession(request);
    guard.check(request);
    const name = field(request.body, "name").trim();
    const created = await createApiKey(ctx, session.clientId, name === "" ? null : name);
    return renderPage(reply, "portal/api-keys", {
      frame: frameFor(request, guard, "api-keys", "API keys"),
      keys: await listApiKeys(ctx, session.clientId),
      created,
    });
  });

  app.post<{ Params: { apiKeyId: string } } & Form>("/portal/api-keys/:apiKeyId/delete", async (request, reply) => {
    const session = keySession(request);
    guard.check(request);
    await deleteApiKey(ctx, session.clientId, asId<ApiKeyId>(request.params.apiKeyId));
    return reply.redirect("/portal/api-keys?done=key-deleted", 303);
  });
}
