import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import { authenticateOperator, connectionAccess, reportRevokedAccess } from "../../domain/operator-api.ts";
import { HooklineError } from "../../errors.ts";
import { asId, type CompanyId, type ConnectionId } from "../../ids.ts";
import { pathParams } from "../../openapi/codat.ts";
import { deauthorizeBody } from "../../openapi/hookline/operator.ts";

const refused = () =>
  new HooklineError(
    401,
    'Unauthorized: send "Authorization: Bearer <operator token>" (created with `hookline operator-tokens create`); client API keys are not accepted',
  );

/** `Authorization: Bearer <operator token>`; anything else, a client's API key included, is a 401 that never echoes what was sent. */
function operatorAuth(ctx: AppContext) {
  return async (request: FastifyRequest) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "");
    if (!match || !(await authenticateOperator(ctx, match[1]!))) throw refused();
  };
}

type Params = { companyId: string; connectionId: string };
const ids = (params: Params) => [asId<CompanyId>(params.companyId), asId<ConnectionId>(params.connectionId)] as const;

/** The operator API, for the operator's data engine: a connection's live access, and the report that its source revoked it. */
export function operatorRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.addHook("onRequest", operatorAuth(ctx));
  const base = "/operator/companies/:companyId/connections/:connectionId";
  const params = pathParams("companyId", "connectionId");
  app.get<{ Params: Params }>(`${base}/access`, { schema: { params } }, (request) => connectionAccess(ctx, ...ids(request.params)));
  app.post<{ Params: Params; Body: { statusCode: string; statusText?: string; message: string } }>(
    `${base}/deauthorize`,
    {
      schema: {
        params,
        body: deauthorizeBody,
      },
    },
    (request) =>
      reportRevokedAccess(ctx, ...ids(request.params), {
        statusCode: request.body.statusCode,
        statusText: request.body.statusText ?? "Deauthorized",
        errorMessage: request.body.message,
      }),
  );
}
