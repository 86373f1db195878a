import type { JsonSchema } from "../codat.ts";
import { errorResponse } from "./shared.ts";

/** The body of POST /portal/access; also the route's validation schema, so the document and the server agree. */
export const accessLinkBody: JsonSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    readOnly: { type: "boolean", description: "The portal shows everything and changes nothing (no signing secrets either). Default false." },
    webhookIds: {
      type: "array",
      minItems: 1,
      maxItems: 100,
      items: { type: "string", format: "uuid" },
      description: "Limits the portal to these webhook consumers of the client: the others answer 404 there, and it creates none. Default: every consumer.",
    },
  },
};

/** The embeddable portal's access links. */
export const portalPaths: Record<string, Record<string, JsonSchema>> = {
  "/portal/access": {
    post: {
      operationId: "create-portal-access",
      summary: "Create a portal access link",
      description:
        "Hookline extension. A short-lived (`HOOKLINE_PORTAL_LINK_TTL`, 5 minutes), single-use URL that opens the web portal for the calling client, to embed in an iframe of the client's own product or open in a browser. Opened again, after it expires, or changed, it shows a page saying so.",
      tags: ["Portal"],
      requestBody: { required: false, content: { "application/json": { schema: accessLinkBody } } },
      responses: {
        "201": {
          description: "The link",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: { url: { type: "string", format: "uri" }, expiresAt: { type: "string", format: "date-time" } },
                required: ["url", "expiresAt"],
              },
            },
          },
        },
        "400": errorResponse("The body is not valid"),
        "401": errorResponse("No valid API key"),
        "404": errorResponse("A webhook consumer in webhookIds is not the client's"),
      },
    },
  },
};
