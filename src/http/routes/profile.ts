import type { FastifyInstance } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import { getProfile, updateProfile, type ProfileResource } from "../../domain/profile.ts";
import { alertAuthHeaderProperty } from "../../openapi/hookline/profile.ts";
import { requestBody } from "../schemas.ts";

/** Codat's profile body, and Hookline's alertAuthHeader beside it. */
const profileBody = {
  allOf: [requestBody("/components/schemas/Profile"), { type: "object", properties: { alertAuthHeader: alertAuthHeaderProperty } }],
};

export function profileRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get("/profile", (request) => getProfile(ctx, request.client.id));
  app.put<{ Body: ProfileResource }>("/profile", { schema: { body: profileBody } }, (request) => updateProfile(ctx, request.client.id, request.body));
}
