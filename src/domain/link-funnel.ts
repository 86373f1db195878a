import type { CompanyId, ConnectionId } from "../ids.ts";
import type { Store } from "../storage/database.ts";
import { findLinkSession } from "../storage/connections.ts";
import { recordStep, type StepError } from "../storage/link-funnels.ts";
import type { LinkStep } from "../storage/schema.ts";
import type { AppContext } from "./context.ts";

export type { LinkStep } from "../storage/schema.ts";
export type { StepError } from "../storage/link-funnels.ts";

/** The connection whose journey a step belongs to: its ids are all a link flow has at hand. */
export interface LinkJourney {
  companyId: CompanyId;
  connectionId: ConnectionId;
}

/**
 * Steps a link holder repeats by reloading a page or following a link again:
 * each is kept once per connection per repeat window
 * (HOOKLINE_LINK_STEP_REPEAT_WINDOW), so that reloading a link page without
 * end adds no row. The summary keeps their first time, which a repeat never changes.
 */
const REPEATABLE: ReadonlySet<LinkStep> = new Set(["opened", "redirected", "returned"]);

/** Steps being written, per store, so that closing waits for them rather than cutting them off. */
const pending = new WeakMap<Store, Set<Promise<void>>>();

/**
 * Records that a connection's link journey reached `step` (with the error of
 * a failure), whichever integration and link flow it is: the hosted page, a
 * provider's callback, credentials sent through the API. Written in the
 * background, after whatever the caller commits: the link flow never waits
 * for it, and a failure to record is logged, never passed on to the SMB or to
 * the events.
 */
export function recordLinkStep(ctx: AppContext, journey: LinkJourney, step: LinkStep, error?: StepError, at: number = ctx.clock.now()): void {
  const writes = pending.get(ctx.store) ?? new Set();
  pending.set(ctx.store, writes);
  const write = (async () => {
    const connection = await findLinkSession(ctx.store.db, journey.companyId, journey.connectionId);
    // Deleted meanwhile: a journey is recorded only for a connection that exists when it starts.
    if (!connection) return;
    await recordStep(ctx.store, {
      clientId: connection.clientId,
      companyId: journey.companyId,
      connectionId: journey.connectionId,
      integrationKey: connection.integrationKey,
      createdAt: Number(connection.createdAt),
      step,
      at,
      error,
      // The same id for the repeats of a step within one window: the database keeps the first of them.
      id: REPEATABLE.has(step) ? `${journey.connectionId}:${step}:${Math.floor(at / ctx.config.insight.stepRepeatWindowMs)}` : undefined,
    });
  })()
    // The ids would open the link page to whoever reads the log: only the step is logged.
    .catch((cause: unknown) => ctx.logger.warn({ err: cause, step }, "recording a link step failed; the link flow went on"))
    .finally(() => writes.delete(write));
  writes.add(write);
}

/** Waits for the link steps being written to `store`: before it closes. */
export async function linkStepsWritten(store: Store): Promise<void> {
  await Promise.all([...(pending.get(store) ?? [])]);
}
