import type { JsonSchema } from "../codat.ts";
import { errorResponse } from "./shared.ts";

/** The operator API's authentication: an operator token (`hookline operator-tokens create`), never a client's API key. */
export const OPERATOR_SECURITY_SCHEME = "operator_token";
export const operatorSecurityScheme: JsonSchema = {
  type: "http",
  scheme: "bearer",
  description: "`Authorization: Bearer hlop_…`: an operator token made with `hookline operator-tokens create`. Clients' API keys are refused here.",
};

/** The body of POST .../deauthorize; also the route's validation schema, so the document and the server agree. */
export const deauthorizeBody: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["statusCode", "message"],
  properties: {
    statusCode: { type: "string", pattern: "^[1-5][0-9]{2}$", description: "The HTTP status the source refused the access with.", example: "401" },
    statusText: { type: "string", minLength: 1, maxLength: 200, description: "Its status text; default `Deauthorized`.", example: "Unauthorized" },
    message: { type: "string", minLength: 1, maxLength: 1000, description: "What the source said, for the connection's error.", example: "Password changed" },
  },
};

const connectionAccess: JsonSchema = {
  description:
    "A Linked connection's current access, opened: the OAuth access token after its latest refresh (`kind: oauth2`), or the credentials it was linked with (`kind: credentials`).",
  oneOf: [
    {
      type: "object",
      required: ["companyId", "connectionId", "platformKey", "kind", "accessToken", "expiresAt"],
      properties: {
        companyId: { type: "string", format: "uuid" },
        connectionId: { type: "string", format: "uuid" },
        platformKey: { type: "string" },
        kind: { type: "string", const: "oauth2" },
        accessToken: { type: "string" },
        expiresAt: { type: ["string", "null"], format: "date-time", description: "Null when the provider did not say." },
      },
    },
    {
      type: "object",
      required: ["companyId", "connectionId", "platformKey", "kind", "credentials"],
      properties: {
        companyId: { type: "string", format: "uuid" },
        connectionId: { type: "string", format: "uuid" },
        platformKey: { type: "string" },
        kind: { type: "string", const: "credentials" },
        credentials: { type: "object", additionalProperties: { type: "string" }, description: "The integration's declared fields." },
      },
    },
  ],
};

const parameters = [{ $ref: "#/components/parameters/companyId" }, { $ref: "#/components/parameters/connectionId" }];
const security = [{ [OPERATOR_SECURITY_SCHEME]: [] }];
const refusals = {
  "401": errorResponse("No valid operator token"),
  "404": errorResponse("Company or connection not found"),
  "409": errorResponse("The connection is not Linked, or holds no access"),
};

/** The operator API, for the operator's data engine: across every client, signed in with an operator token. */
export const operatorPaths: Record<string, Record<string, JsonSchema>> = {
  "/operator/companies/{companyId}/connections/{connectionId}/access": {
    get: {
      operationId: "get-operator-connection-access",
      summary: "Get a connection's access (operator)",
      description:
        "Hookline extension, for the operator's data engine. The connection's live access to its source: `409` when it is not Linked, or its integration keeps nothing (the sandbox, `keepCredentials: false`).",
      tags: ["Operator"],
      security,
      parameters,
      responses: { "200": { description: "The access", content: { "application/json": { schema: connectionAccess } } }, ...refusals },
    },
  },
  "/operator/companies/{companyId}/connections/{connectionId}/deauthorize": {
    post: {
      operationId: "deauthorize-operator-connection",
      summary: "Report a connection's revoked access (operator)",
      description:
        "Hookline extension, for the operator's data engine. The source refused the connection's access: it becomes `Deauthorized` with this entry among its `dataConnectionErrors`, forgets its tokens and credentials, and the client hears `connection.disconnected`. `409` when it is not Linked.",
      tags: ["Operator"],
      security,
      parameters,
      requestBody: { required: true, content: { "application/json": { schema: deauthorizeBody } } },
      responses: {
        "200": { description: "The connection, as the client API shows it", content: { "application/json": { schema: { $ref: "#/components/schemas/Connection" } } } },
        "400": errorResponse("Invalid field"),
        ...refusals,
      },
    },
  },
};
