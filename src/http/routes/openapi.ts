import type { FastifyInstance } from "fastify";
import { operationalWebhooks } from "../../domain/events/operational.ts";
import { servedDocument } from "../../openapi/served.ts";

export const OPENAPI_PATH = "/openapi.json";

export function openapiRoutes(app: FastifyInstance, publicUrl: string): void {
  const document = JSON.stringify(servedDocument(publicUrl, operationalWebhooks));
  app.get(OPENAPI_PATH, (_request, reply) => reply.type("application/json").send(document));
}
