import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import { contractMigration, expandMigration, migrationCandidates, migrationReport, revertMigration, switchMigration } from "../../domain/legacy-migration.ts";
import { notFound } from "../../errors.ts";
import { asId, type ConsumerId } from "../../ids.ts";
import { field, frameFor, utcInstant } from "../portal/frame.ts";
import type { PortalFrame } from "../portal/pages.ts";
import type { CsrfGuard } from "../portal/session.ts";
import { renderPage } from "../render.ts";

type Form = { Body: Record<string, unknown> | undefined };
type LegacyParams = { Params: { consumerId: string } };

const STEPS = { switch: switchMigration, revert: revertMigration, contract: contractMigration };

/** What each step's redirect says, named by the step (`?done=` carries the name only). */
const DONE: Record<string, PortalFrame["notice"]> = {
  expand: { kind: "ok", text: "Replacement created in shadow mode: its deliveries are recorded, not sent to its URL. Compare once changes have happened." },
  switch: { kind: "ok", text: "Switched: the replacement is live and the legacy consumer is disabled. Revert if your endpoint is not ready." },
  revert: { kind: "warn", text: "Reverted one step." },
  contract: { kind: "ok", text: "Legacy consumer deleted: the migration is complete." },
};

/**
 * The legacy migration page: each consumer on legacy rule types with its
 * proposed replacement and its state, the comparison report, and the steps.
 * Only a session over the whole client sees it: a migration creates and
 * deletes consumers, which a session limited to some consumers may not.
 */
export function portalMigrationRoutes(app: FastifyInstance, ctx: AppContext, guard: CsrfGuard): void {
  const wholeClient = (request: FastifyRequest) => {
    if (request.portalSession.consumerIds !== null) throw notFound("Page");
    return request.portalSession.clientId;
  };
  const notice = (request: FastifyRequest) => {
    const done = (request.query as Record<string, unknown> | undefined)?.done;
    return typeof done === "string" && Object.hasOwn(DONE, done) ? DONE[done] : undefined;
  };

  app.get("/portal/migration", async (request, reply) => {
    const { results } = await migrationCandidates(ctx, wholeClient(request));
    return renderPage(reply, "portal/migration", { frame: frameFor(request, guard, "migration", "Legacy migration", notice(request)), candidates: results });
  });

  const candidateOf = async (request: FastifyRequest<LegacyParams>) => {
    const legacyId = asId<ConsumerId>(request.params.consumerId);
    const candidate = (await migrationCandidates(ctx, wholeClient(request))).results.find((entry) => entry.webhookId === legacyId);
    if (!candidate) throw notFound("Webhook consumer");
    return candidate;
  };

  app.get<LegacyParams & { Querystring: { since?: string; until?: string } }>("/portal/migration/:consumerId", async (request, reply) => {
    const clientId = wholeClient(request);
    const legacyId = asId<ConsumerId>(request.params.consumerId);
    const candidate = await candidateOf(request);
    const window = { since: request.query.since ?? "", until: request.query.until ?? "" };
    const report =
      candidate.migration.state === "legacy"
        ? null
        : await migrationReport(ctx, clientId, legacyId, { since: utcInstant(window.since), until: utcInstant(window.until) });
    return renderPage(reply, "portal/migration-report", {
      frame: frameFor(request, guard, "migration", "Migration report", notice(request)),
      candidate,
      report,
      window,
    });
  });

  // Contract cannot be reverted: it is asked for on a page of its own, as deleting a consumer is.
  app.get<LegacyParams>("/portal/migration/:consumerId/contract", async (request, reply) => {
    const candidate = await candidateOf(request);
    if (candidate.migration.state !== "switched") return reply.redirect(`/portal/migration/${candidate.webhookId}`, 303);
    return renderPage(reply, "portal/confirm-contract", { frame: frameFor(request, guard, "migration", "Delete the legacy consumer"), candidate });
  });

  app.post<LegacyParams & Form>("/portal/migration/:consumerId/expand", async (request, reply) => {
    const clientId = wholeClient(request);
    guard.check(request);
    const legacyId = asId<ConsumerId>(request.params.consumerId);
    const url = field(request.body, "url").trim();
    const testUrl = field(request.body, "testUrl").trim();
    await expandMigration(ctx, clientId, legacyId, { url: url || undefined, testUrl: testUrl || undefined });
    return reply.redirect(`/portal/migration/${legacyId}?done=expand`, 303);
  });

  app.post<{ Params: { consumerId: string; step: string } } & Form>("/portal/migration/:consumerId/:step", async (request, reply) => {
    const clientId = wholeClient(request);
    guard.check(request);
    const { step } = request.params;
    if (!Object.hasOwn(STEPS, step)) throw notFound("Page");
    const legacyId = asId<ConsumerId>(request.params.consumerId);
    // A step that does not apply now (a 409, as from a second tab) shows the API's words on the error page.
    await STEPS[step as keyof typeof STEPS](ctx, clientId, legacyId);
    return reply.redirect(step === "contract" ? "/portal/migration?done=contract" : `/portal/migration/${legacyId}?done=${step}`, 303);
  });
}
