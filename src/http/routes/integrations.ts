import type { FastifyInstance } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import { toBrandingResource, toIntegrationResource } from "../../integrations/registry.ts";
import { pageEnvelope } from "../../domain/paging.ts";
import { malformed, parseOrderBy, parseQuery, type Condition } from "../../domain/query.ts";
import { pageRequest, pagingQuery, pathParams, type PagingQuerystring } from "../schemas.ts";

type Resource = ReturnType<typeof toIntegrationResource>;
const FILTERABLE = ["key", "name", "sourceType", "sourceId", "integrationId"] as const;

function holds(resource: Resource, { key, operator, value }: Condition): boolean {
  const field = String(resource[key as (typeof FILTERABLE)[number]] ?? "");
  switch (operator) {
    case "=":
      return field === value;
    case "!=":
      return field !== value;
    case "~":
      return field.toLowerCase().includes(value.toLowerCase());
    case ">":
      return field > value;
    case "<":
      return field < value;
    case ">=":
      return field >= value;
    case "<=":
      return field <= value;
  }
}

/** Integrations are few and held in memory, so their list is filtered and paged here rather than in SQL. */
export function integrationRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Querystring: PagingQuerystring }>("/integrations", { schema: { querystring: pagingQuery } }, (request) => {
    const page = pageRequest(request.query);
    const alternatives = page.query ? parseQuery(page.query) : [[]];
    for (const condition of alternatives.flat()) {
      if (!(FILTERABLE as readonly string[]).includes(condition.key))
        throw malformed(page.query!, `unknown key "${condition.key}": use ${FILTERABLE.join(", ")}`);
    }
    const order = parseOrderBy(page.orderBy, { key: "key", name: "name" } as const, "key");
    const matching = ctx.integrations
      .list()
      .map((integration) => toIntegrationResource(ctx.config.publicUrl, integration))
      .filter((resource) => alternatives.some((all) => all.every((condition) => holds(resource, condition))))
      .sort((a, b) => (order.direction === "asc" ? 1 : -1) * String(a[order.column]).localeCompare(String(b[order.column])));
    const start = (page.page - 1) * page.pageSize;
    return pageEnvelope("/integrations", page, matching.slice(start, start + page.pageSize), matching.length);
  });

  app.get<{ Params: { platformKey: string } }>("/integrations/:platformKey", { schema: { params: pathParams("platformKey") } }, (request) =>
    toIntegrationResource(ctx.config.publicUrl, ctx.integrations.get(request.params.platformKey)),
  );

  app.get<{ Params: { platformKey: string } }>("/integrations/:platformKey/branding", { schema: { params: pathParams("platformKey") } }, (request) =>
    toBrandingResource(ctx.config.publicUrl, ctx.integrations.get(request.params.platformKey)),
  );
}
