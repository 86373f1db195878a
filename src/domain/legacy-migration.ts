import { isoDate } from "../clock.ts";
import { MAX_MIGRATION_REPORT_DELIVERIES, MIGRATION_REPORT_EXAMPLES } from "../constants/limits.ts";
import { conflict, notFound, badRequest } from "../errors.ts";
import type { ClientId, ConsumerId } from "../ids.ts";
import { insertHistoryEntry } from "../storage/consumer-history.ts";
import { decodeSubscription } from "../storage/consumers-codec.ts";
import {
  findConsumer,
  findReplacementOf,
  listConsumersOf,
  listReplacementsOf,
  lockConsumer,
  updateConsumerColumns,
  type ConsumerRow,
} from "../storage/consumers.ts";
import type { UnitOfWork } from "../storage/database.ts";
import { readDeliveriesForComparison, type ComparedDelivery } from "../storage/migration-report.ts";
import { createConsumer, deleteConsumerWithin, enabledChanges, Releases } from "./consumers.ts";
import type { AppContext } from "./context.ts";
import { isLegacyRuleType, LEGACY_RULE_TYPES } from "./events/legacy-rules.ts";
import { parseTimeRange, type TimeRangeInput } from "./time-range.ts";

/**
 * Moving a consumer off legacy rule types, expand and contract (README,
 * "Migrating from legacy rules"): expand creates the replacement in shadow
 * mode beside the legacy consumer; the report compares what each got for the
 * same changes; switch makes the replacement live and disables the legacy
 * consumer; contract deletes it. Until then revert undoes the last step.
 * Every step is written to both consumers' histories.
 */

/**
 * Where a legacy consumer's migration stands: `legacy` (not started),
 * `shadow` (the replacement records what it would get), `switched` (the
 * replacement is live, the legacy consumer disabled).
 */
export type MigrationState = "legacy" | "shadow" | "switched";

export interface MigrationStatus {
  legacyWebhookId: string;
  state: MigrationState;
  /** Null before the expand step. */
  replacementWebhookId: string | null;
  /** Where the shadow replacement's deliveries go instead of its URL; null when they are recorded without a request. */
  testUrl: string | null;
}

/** A consumer still on legacy rule types, and the subscription that replaces it. */
export interface MigrationCandidate {
  webhookId: string;
  url: string;
  disabled: boolean;
  /** The legacy rule types it names. */
  legacyEventTypes: string[];
  /** Its event types with each rule type replaced by the types SPEC section 5 maps it to, each once, in the order first named. */
  proposedEventTypes: string[];
  /** The same company tags: the replacement hears about the same companies. */
  companyTags: string[];
  /** How far its migration went. */
  migration: MigrationStatus;
}

function candidateOf(row: ConsumerRow, replacement: ConsumerRow | undefined): MigrationCandidate | undefined {
  const { eventTypes, companyTags } = decodeSubscription(row);
  const legacyEventTypes = eventTypes.filter(isLegacyRuleType);
  if (legacyEventTypes.length === 0) return undefined;
  return {
    webhookId: row.id,
    url: row.url,
    disabled: Boolean(row.disabled),
    legacyEventTypes,
    proposedEventTypes: [...new Set(eventTypes.flatMap((eventType) => LEGACY_RULE_TYPES.get(eventType) ?? [eventType]))],
    companyTags: companyTags ?? [],
    migration: statusOf(row.id, replacement),
  };
}

function statusOf(legacyId: ConsumerId, replacement: ConsumerRow | undefined): MigrationStatus {
  return {
    legacyWebhookId: legacyId,
    state: replacement === undefined ? "legacy" : replacement.shadow === 1 ? "shadow" : "switched",
    replacementWebhookId: replacement?.id ?? null,
    testUrl: replacement?.shadow === 1 ? replacement.shadow_test_url : null,
  };
}

/** Every consumer of the client that names a legacy rule type, with its proposed replacement and its migration (`GET /webhooks/migration`). */
export async function migrationCandidates(ctx: AppContext, clientId: ClientId): Promise<{ results: MigrationCandidate[] }> {
  const replacements = new Map((await listReplacementsOf(ctx.store.db, clientId)).map((row) => [row.replaces_id, row]));
  const results = (await listConsumersOf(ctx.store.db, clientId)).map((row) => candidateOf(row, replacements.get(row.id)));
  return { results: results.filter((candidate) => candidate !== undefined) };
}

/** The legacy consumer, or 404; 400 for a consumer on no legacy rule type. */
function legacyCandidate(row: ConsumerRow | undefined): { legacy: ConsumerRow; candidate: MigrationCandidate } {
  if (!row) throw notFound("Webhook consumer");
  const candidate = candidateOf(row, undefined);
  if (candidate === undefined) throw badRequest("This webhook consumer names no legacy rule types: it has nothing to migrate");
  return { legacy: row, candidate };
}

/**
 * The legacy consumer, locked until the transaction ends, and its
 * replacement: every step locks the legacy consumer first, so steps of one
 * migration apply one after the other.
 */
async function lockMigration(uow: UnitOfWork, clientId: ClientId, legacyId: ConsumerId) {
  const { legacy, candidate } = legacyCandidate(await lockConsumer(uow.tx, clientId, legacyId));
  return { legacy, candidate, replacement: await findReplacementOf(uow.tx, clientId, legacyId) };
}

/** Writes one step into the histories of both consumers (the legacy one's only while it exists). */
async function recordStep(
  ctx: AppContext,
  uow: UnitOfWork,
  clientId: ClientId,
  consumerIds: readonly ConsumerId[],
  action: string,
  detail: Record<string, unknown>,
) {
  for (const consumerId of consumerIds) await insertHistoryEntry(uow.tx, clientId, consumerId, { at: ctx.clock.now(), action, detail });
}

export interface ExpandInput {
  /** The replacement's URL; the legacy consumer's when absent. */
  url?: string | undefined;
  /** Where the shadow replacement's deliveries go meanwhile; without one they are recorded, not sent. */
  testUrl?: string | undefined;
}

/**
 * Expand: creates the legacy consumer's replacement (its proposed event types
 * and the same company tags, at the same or another URL) in shadow mode, from
 * its first delivery: what it gets is built and recorded, never sent to its
 * URL (to the test URL when given). 409 when the consumer has one already.
 */
export async function expandMigration(ctx: AppContext, clientId: ClientId, legacyId: ConsumerId, input: ExpandInput): Promise<MigrationStatus> {
  const { legacy, candidate: proposed } = legacyCandidate(await findConsumer(ctx.store.db, clientId, legacyId));
  if (input.testUrl !== undefined) await ctx.destinations.assertAllowedUrl(input.testUrl);
  let created: ConsumerId | undefined;
  await createConsumer(
    ctx,
    clientId,
    { url: input.url ?? legacy.url, eventTypes: proposed.proposedEventTypes, companyTags: proposed.companyTags },
    {
      replacing: {
        replaces: legacyId,
        testUrl: input.testUrl ?? null,
        within: async (uow, replacementId) => {
          created = replacementId;
          const { replacement: existing, candidate } = await lockMigration(uow, clientId, legacyId);
          if (existing) throw conflict(`This legacy webhook consumer was expanded already: its replacement is ${existing.id} (revert to start again)`);
          await recordStep(ctx, uow, clientId, [legacyId, replacementId], "migration.expanded", {
            legacyWebhookId: legacyId,
            replacementWebhookId: replacementId,
            eventTypes: candidate.proposedEventTypes,
            testUrl: input.testUrl ?? null,
          });
        },
      },
    },
  );
  return { legacyWebhookId: legacyId, state: "shadow", replacementWebhookId: created!, testUrl: input.testUrl ?? null };
}

/** Switch: the replacement goes live (shadow mode off) and the legacy consumer is disabled, in one transaction. */
export async function switchMigration(ctx: AppContext, clientId: ClientId, legacyId: ConsumerId): Promise<MigrationStatus> {
  return ctx.store.transaction(async (uow) => {
    const { legacy, replacement } = await lockMigration(uow, clientId, legacyId);
    if (!replacement) throw conflict("This legacy webhook consumer has no replacement yet: expand first");
    if (replacement.shadow === 0) throw conflict(`Switched already: the replacement ${replacement.id} is live`);
    await updateConsumerColumns(uow.tx, clientId, replacement.id, { shadow: 0 });
    await updateConsumerColumns(uow.tx, clientId, legacyId, enabledChanges(legacy, false, new Releases()));
    await recordStep(ctx, uow, clientId, [legacyId, replacement.id], "migration.switched", { legacyWebhookId: legacyId, replacementWebhookId: replacement.id });
    return statusOf(legacyId, { ...replacement, shadow: 0 });
  });
}

/**
 * Revert: undoes the last step. After a switch, the replacement goes back to
 * shadow mode (with its test URL, if it had one) and the legacy consumer is
 * enabled again; in shadow mode, the replacement is deleted, with what it
 * recorded. 409 when there is nothing to undo.
 */
export async function revertMigration(ctx: AppContext, clientId: ClientId, legacyId: ConsumerId): Promise<MigrationStatus> {
  // What the legacy consumer's open circuit held is released once it is enabled again and this has committed.
  const releases = new Releases();
  const status = await ctx.store.transaction(async (uow) => {
    const { legacy, replacement } = await lockMigration(uow, clientId, legacyId);
    if (!replacement) throw conflict("This legacy webhook consumer has no migration to revert");
    if (replacement.shadow === 0) {
      await updateConsumerColumns(uow.tx, clientId, replacement.id, { shadow: 1 });
      await updateConsumerColumns(uow.tx, clientId, legacyId, enabledChanges(legacy, true, releases));
      await recordStep(ctx, uow, clientId, [legacyId, replacement.id], "migration.reverted", {
        legacyWebhookId: legacyId,
        replacementWebhookId: replacement.id,
        to: "shadow",
      });
      return statusOf(legacyId, { ...replacement, shadow: 1 });
    }
    await deleteConsumerWithin(uow.tx, clientId, replacement.id);
    await recordStep(ctx, uow, clientId, [legacyId], "migration.reverted", { legacyWebhookId: legacyId, replacementWebhookId: replacement.id, to: "legacy" });
    return statusOf(legacyId, undefined);
  });
  await releases.finish(ctx, legacyId);
  return status;
}

/** Contract: deletes the legacy consumer once switched; the step stays in the replacement's history. Not reversible. */
export async function contractMigration(
  ctx: AppContext,
  clientId: ClientId,
  legacyId: ConsumerId,
): Promise<{ deletedWebhookId: string; replacementWebhookId: string }> {
  return ctx.store.transaction(async (uow) => {
    const { replacement } = await lockMigration(uow, clientId, legacyId);
    if (!replacement || replacement.shadow === 1) throw conflict("Switch to the replacement before deleting the legacy webhook consumer");
    await deleteConsumerWithin(uow.tx, clientId, legacyId);
    await recordStep(ctx, uow, clientId, [replacement.id], "migration.contracted", { legacyWebhookId: legacyId, replacementWebhookId: replacement.id });
    return { deletedWebhookId: legacyId, replacementWebhookId: replacement.id };
  });
}

/** One delivery in a comparison report. */
export interface ComparedItem {
  deliveryId: string;
  messageId: string;
  /** The message's type: a legacy rule type on the legacy side, an event type on the new side. */
  eventType: string;
  status: string;
  createdAt: string;
}

export interface ComparisonReport {
  legacyWebhookId: string;
  replacementWebhookId: string;
  since: string;
  until: string;
  /** True when a side had more deliveries in the window than one report reads: shorten the window. */
  truncated: boolean;
  counts: { legacy: number; new: number; matched: number; legacyOnly: number; newOnly: number };
  /** Legacy-only deliveries by rule type, and the event types of the changes they came from: what the replacement lacks. */
  legacyOnlyByType: Record<string, number>;
  newOnlyByType: Record<string, number>;
  /** True when every legacy delivery of the window has its match: the replacement covers everything the legacy consumer got. */
  covered: boolean;
  examples: {
    matched: Array<{ sourceMessageId: string; legacy: ComparedItem; new: ComparedItem }>;
    legacyOnly: Array<ComparedItem & { sourceMessageId: string | null; sourceEventType: string | null }>;
    newOnly: ComparedItem[];
  };
}

const itemOf = (row: ComparedDelivery): ComparedItem => ({
  deliveryId: row.deliveryId,
  messageId: row.messageId,
  eventType: row.eventType,
  status: row.status,
  createdAt: isoDate(row.createdAt),
});

const countBy = (rows: readonly ComparedDelivery[], key: (row: ComparedDelivery) => string): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const row of rows) counts[key(row)] = (counts[key(row)] ?? 0) + 1;
  return counts;
};

/**
 * Compare: pairs each legacy delivery of the window with the replacement's
 * delivery of the same change (the event its alert was rendered from):
 * matched, legacy-only (the replacement lacks it: a missing event type or
 * company tag), new-only (the replacement gets more). The window defaults to
 * the replacement's creation until now.
 */
export async function migrationReport(ctx: AppContext, clientId: ClientId, legacyId: ConsumerId, range: TimeRangeInput): Promise<ComparisonReport> {
  legacyCandidate(await findConsumer(ctx.store.db, clientId, legacyId));
  const replacement = await findReplacementOf(ctx.store.db, clientId, legacyId);
  if (!replacement) throw conflict("This legacy webhook consumer has no replacement to compare with: expand first");
  const parsed = parseTimeRange(range);
  const since = parsed.since ?? replacement.created_at;
  const until = parsed.until ?? ctx.clock.now() + 1;
  const read = (consumerId: ConsumerId) => readDeliveriesForComparison(ctx.store.db, clientId, consumerId, since, until, MAX_MIGRATION_REPORT_DELIVERIES + 1);
  const [legacyRows, newRows] = await Promise.all([read(legacyId), read(replacement.id)]);
  const truncated = legacyRows.length > MAX_MIGRATION_REPORT_DELIVERIES || newRows.length > MAX_MIGRATION_REPORT_DELIVERIES;
  const legacy = legacyRows.slice(0, MAX_MIGRATION_REPORT_DELIVERIES);
  const fresh = newRows.slice(0, MAX_MIGRATION_REPORT_DELIVERIES);

  const newByMessage = new Map(fresh.map((row) => [row.messageId, row]));
  const matched = legacy.filter((row) => row.sourceMessageId !== null && newByMessage.has(row.sourceMessageId));
  const legacyOnly = legacy.filter((row) => row.sourceMessageId === null || !newByMessage.has(row.sourceMessageId));
  const sources = new Set(legacy.map((row) => row.sourceMessageId));
  const newOnly = fresh.filter((row) => !sources.has(row.messageId));
  const examples = MIGRATION_REPORT_EXAMPLES;
  return {
    legacyWebhookId: legacyId,
    replacementWebhookId: replacement.id,
    since: isoDate(since),
    until: isoDate(until),
    truncated,
    counts: { legacy: legacy.length, new: fresh.length, matched: matched.length, legacyOnly: legacyOnly.length, newOnly: newOnly.length },
    legacyOnlyByType: countBy(legacyOnly, (row) => `${row.eventType} (from ${row.sourceEventType ?? "an unknown event"})`),
    newOnlyByType: countBy(newOnly, (row) => row.eventType),
    covered: legacyOnly.length === 0,
    examples: {
      matched: matched
        .slice(0, examples)
        .map((row) => ({ sourceMessageId: row.sourceMessageId!, legacy: itemOf(row), new: itemOf(newByMessage.get(row.sourceMessageId!)!) })),
      legacyOnly: legacyOnly.slice(0, examples).map((row) => ({ ...itemOf(row), sourceMessageId: row.sourceMessageId, sourceEventType: row.sourceEventType })),
      newOnly: newOnly.slice(0, examples).map(itemOf),
    },
  };
}
