import type { FastifyInstance } from "fastify";
import type { components } from "../../generated/codat.d.ts";
import { authorizeConnection, createConnection, deleteConnection, getConnection, listConnections, unlinkConnection } from "../../domain/connections.ts";
import type { AppContext } from "../../domain/context.ts";
import { badRequest } from "../../errors.ts";
import { asId, type CompanyId, type ConnectionId } from "../../ids.ts";
import { pageRequest, pagingQuery, pathParams, requestBody, type PagingQuerystring } from "../schemas.ts";

type CompanyParams = { companyId: string };
type ConnectionParams = { companyId: string; connectionId: string };

const companyOf = (params: CompanyParams) => asId<CompanyId>(params.companyId);
const connectionOf = (params: ConnectionParams) => [asId<CompanyId>(params.companyId), asId<ConnectionId>(params.connectionId)] as const;

export function connectionRoutes(app: FastifyInstance, ctx: AppContext): void {
  const base = "/companies/:companyId/connections";
  const connectionParams = pathParams("companyId", "connectionId");

  app.get<{ Params: CompanyParams; Querystring: PagingQuerystring }>(
    base,
    { schema: { params: pathParams("companyId"), querystring: pagingQuery } },
    (request) => listConnections(ctx, request.client.id, companyOf(request.params), pageRequest(request.query)),
  );

  app.post<{ Params: CompanyParams; Body: { platformKey?: string } }>(
    base,
    {
      schema: {
        params: pathParams("companyId"),
        body: requestBody("/paths/~1companies~1%7BcompanyId%7D~1connections/post/requestBody/content/application~1json/schema"),
      },
    },
    (request) => {
      if (!request.body?.platformKey) throw badRequest("platformKey is required", [{ itemId: "platformKey", message: "Required", validatorName: "required" }]);
      return createConnection(ctx, request.client.id, companyOf(request.params), request.body.platformKey);
    },
  );

  app.get<{ Params: ConnectionParams }>(`${base}/:connectionId`, { schema: { params: connectionParams } }, (request) =>
    getConnection(ctx, request.client.id, ...connectionOf(request.params)),
  );

  app.delete<{ Params: ConnectionParams }>(`${base}/:connectionId`, { schema: { params: connectionParams } }, async (request, reply) => {
    await deleteConnection(ctx, request.client.id, ...connectionOf(request.params));
    return reply.status(200).send();
  });

  app.patch<{ Params: ConnectionParams; Body: components["schemas"]["UpdateConnectionStatus"] }>(
    `${base}/:connectionId`,
    { schema: { params: connectionParams, body: requestBody("/components/schemas/UpdateConnectionStatus") } },
    (request) => unlinkConnection(ctx, request.client.id, ...connectionOf(request.params), request.body.status),
  );

  app.put<{ Params: ConnectionParams; Body: Record<string, string> }>(
    `${base}/:connectionId/authorization`,
    {
      schema: {
        params: connectionParams,
        body: requestBody(
          "/paths/~1companies~1%7BcompanyId%7D~1connections~1%7BconnectionId%7D~1authorization/put/requestBody/content/application~1json/schema",
        ),
      },
    },
    (request) => authorizeConnection(ctx, request.client.id, ...connectionOf(request.params), { kind: "credentials", credentials: request.body }),
  );
}
