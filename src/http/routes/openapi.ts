import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { operationalWebhooks } from "../../domain/events/operational.ts";
import { servedDocument } from "../../openapi/served.ts";

export const OPENAPI_PATH = "/openapi.json";
export const DOCS_PATH = "/docs";

/**
 * The interactive docs' pages run Swagger UI's own scripts, served from here
 * (no CDN), and nothing inline: scripts and connections stay on this origin,
 * and the page can be framed by no one. Swagger UI sets style attributes, so
 * inline styles are allowed, as on the other pages.
 */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The served OpenAPI document, and interactive docs over it at /docs. */
export async function openapiRoutes(app: FastifyInstance, publicUrl: string): Promise<void> {
  const document = servedDocument(publicUrl, operationalWebhooks);
  const text = JSON.stringify(document);
  app.get(OPENAPI_PATH, (_request, reply) => reply.type("application/json").send(text));
  // Swagger UI reads its document from the plugin it expects, @fastify/swagger, which would generate one from the
  // routes; this one hands it the document written for the API instead.
  await app.register(
    fastifyPlugin(
      async (instance) => {
        instance.decorate("swagger", () => document);
      },
      { name: "@fastify/swagger" },
    ),
  );
  await app.register(swaggerUi, {
    routePrefix: DOCS_PATH,
    staticCSP: DOCS_CSP,
    theme: { title: "Hookline API" },
    // BaseLayout: the document and its operations, without the top bar that would explore other documents.
    uiConfig: { layout: "BaseLayout", deepLinking: true, defaultModelsExpandDepth: 0 },
  });
}
