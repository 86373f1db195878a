import type { ClientId } from "../ids.ts";
import { decodeSubscription } from "../storage/consumers-codec.ts";
import { listConsumersOf } from "../storage/consumers.ts";
import type { AppContext } from "./context.ts";
import { isLegacyRuleType, LEGACY_RULE_TYPES } from "./events/legacy-rules.ts";

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
}

/** Every consumer of the client that names a legacy rule type, with its proposed replacement (`GET /webhooks/migration`). */
export async function migrationCandidates(ctx: AppContext, clientId: ClientId): Promise<{ results: MigrationCandidate[] }> {
  const results: MigrationCandidate[] = [];
  for (const row of await listConsumersOf(ctx.store.db, clientId)) {
    const { eventTypes, companyTags } = decodeSubscription(row);
    const legacyEventTypes = eventTypes.filter(isLegacyRuleType);
    if (legacyEventTypes.length === 0) continue;
    results.push({
      webhookId: row.id,
      url: row.url,
      disabled: Boolean(row.disabled),
      legacyEventTypes,
      proposedEventTypes: [...new Set(eventTypes.flatMap((eventType) => LEGACY_RULE_TYPES.get(eventType) ?? [eventType]))],
      companyTags: companyTags ?? [],
    });
  }
  return { results };
}
