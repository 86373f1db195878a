import { randomBytes, X509Certificate } from "node:crypto";
import { isoDate } from "../clock.ts";
import type { ConsumerOrdering } from "../constants/statuses.ts";
import { MAX_CONSUMER_DESCRIPTION_LENGTH, MAX_CONSUMER_RATE_LIMIT, MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH } from "../constants/limits.ts";
import type { components } from "../generated/codat.d.ts";
import { badRequest, invalidFields, notFound, type ValidationItem } from "../errors.ts";
import { newId, type ClientId, type ConsumerId } from "../ids.ts";
import { deleteHistoryOf, listHistory } from "../storage/consumer-history.ts";
import type { Tx, UnitOfWork } from "../storage/database.ts";
import { deleteDeliveriesOfConsumer, releaseRateSlots } from "../storage/deliveries/on-consumer-change.ts";
import { relineConsumer } from "../storage/deliveries/fifo.ts";
import { releaseInSteps } from "../storage/deliveries/park.ts";
import {
  decodeSubscription,
  encodeCompanyTags,
  encodeEventTypes,
  openPreviousSecrets,
  openSigningSecret,
  sealPreviousSecrets,
  sealSigningSecret,
} from "../storage/consumers-codec.ts";
import {
  countConsumersLockingClient,
  deleteConsumerRow,
  findConsumer,
  insertConsumer,
  listConsumersOf,
  lockConsumer,
  updateConsumerColumns,
  type ConsumerChanges,
  type ConsumerRow,
} from "../storage/consumers.ts";
import type { AppContext } from "./context.ts";
import { listenUrl } from "./listen-url.ts";
import { catalogEventTypes, dataTypeHint, findEventType } from "./events/catalog.ts";
import { isLegacyRuleType, LEGACY_RULE_TYPES, legacySpellingOf } from "./events/legacy-rules.ts";

/** Codat's WebhookConsumer with Hookline's additions; the Codat SDK ignores the extra fields. */
export type WebhookConsumerResource = components["schemas"]["WebhookConsumer"] & {
  description: string | null;
  /** Messages per second; null is unlimited. */
  rateLimit: number | null;
  slowConcurrency: number | null;
  /** The client certificate presented for mTLS (never its key), or null. */
  mtls: { subject: string; expiresAt: string } | null;
  /** `fifo`: one delivery at a time, in event order; `unordered` (the default): concurrently. */
  ordering: ConsumerOrdering;
  /** The consumer's circuit breaker: its run of unreachable attempts, and while open, when the next probe goes. */
  circuit: { state: "closed" | "open"; consecutiveFailures: number; nextProbeAt: string | null };
  /** After a rotation, when the last rotated-out signing secret stops signing beside the current one; null when none does. */
  secretOverlapEndsAt: string | null;
  /** While the consumer is in shadow mode (a legacy consumer's replacement before its switch): its test URL, null when it has none. */
  shadow: { testUrl: string | null } | null;
  /** The legacy rule consumer this one replaces, or null. */
  replacesWebhookId: string | null;
};

export interface ConsumerInput {
  url: string;
  eventTypes: string[];
  companyTags?: string[] | null | undefined;
  disabled?: boolean | null | undefined;
}

/** The fields PATCH /webhooks/{webhookId} may change; absent ones stay as they are. */
export interface ConsumerUpdate {
  url?: string;
  eventTypes?: string[];
  companyTags?: string[] | null;
  description?: string | null;
  disabled?: boolean;
  rateLimit?: number | null;
  slowConcurrency?: number | null;
  ordering?: ConsumerOrdering;
}

/** A new Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
export const newSigningSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

const COMPANY_TAG = new RegExp(`^([^:]{1,${MAX_TAG_KEY_LENGTH}}):(.{0,${MAX_TAG_VALUE_LENGTH}})$`, "s");

/** Errors in the subscription and settings fields present in `input`. */
function inputErrors(input: ConsumerUpdate, slowCeiling: number): ValidationItem[] {
  const errors: ValidationItem[] = [];
  if (input.eventTypes !== undefined) {
    if (input.eventTypes.length === 0) {
      errors.push({ itemId: "eventTypes", message: "Subscribe to at least one event type", validatorName: "eventTypes" });
    }
    const unknown = input.eventTypes.filter((eventType) => findEventType(eventType) === undefined && !isLegacyRuleType(eventType));
    if (unknown.length > 0) {
      const named = unknown.map((type) => {
        const spelling = legacySpellingOf(type);
        return spelling === undefined ? `"${type}"` : `"${type}" (the legacy rule type is spelt "${spelling}")`;
      });
      errors.push({
        itemId: "eventTypes",
        message: `Unknown event types ${named.join(", ")}. Valid event types: ${catalogEventTypes().join(", ")}. Legacy rule types: ${[...LEGACY_RULE_TYPES.keys()].map((type) => `"${type}"`).join(", ")}. ${dataTypeHint()}`,
        validatorName: "eventTypes",
      });
    }
  }
  for (const tag of input.companyTags ?? []) {
    if (!COMPANY_TAG.test(tag)) {
      errors.push({
        itemId: "companyTags",
        message: `"${tag}" is not key:value (key 1-${MAX_TAG_KEY_LENGTH} characters, value up to ${MAX_TAG_VALUE_LENGTH})`,
        validatorName: "companyTags",
      });
    }
  }
  const { rateLimit, slowConcurrency, description } = input;
  if (rateLimit !== undefined && rateLimit !== null && (!Number.isInteger(rateLimit) || rateLimit < 1 || rateLimit > MAX_CONSUMER_RATE_LIMIT)) {
    errors.push({
      itemId: "rateLimit",
      message: `rateLimit must be a whole number of messages per second from 1 to ${MAX_CONSUMER_RATE_LIMIT}, or null for no limit`,
      validatorName: "rateLimit",
    });
  }
  if (
    slowConcurrency !== undefined &&
    slowConcurrency !== null &&
    (!Number.isInteger(slowConcurrency) || slowConcurrency < 1 || slowConcurrency > slowCeiling)
  ) {
    errors.push({
      itemId: "slowConcurrency",
      // The operator's figure is the most: a tenant may ask for fewer attempts in flight, never for more of what every tenant shares.
      message: `slowConcurrency must be a whole number of attempts from 1 to ${slowCeiling} (the operator's HOOKLINE_SLOW_CONSUMER_CONCURRENCY), or null for that default`,
      validatorName: "slowConcurrency",
    });
  }
  if (description !== undefined && description !== null && description.length > MAX_CONSUMER_DESCRIPTION_LENGTH) {
    errors.push({ itemId: "description", message: `description must be at most ${MAX_CONSUMER_DESCRIPTION_LENGTH} characters`, validatorName: "description" });
  }
  return errors;
}

function assertValid(ctx: AppContext, input: ConsumerUpdate): void {
  const errors = inputErrors(input, ctx.config.delivery.slowConsumerConcurrency);
  if (errors.length > 0) throw invalidFields(errors);
}

type ShownColumns = Pick<
  ConsumerRow,
  | "id"
  | "url"
  | "event_types"
  | "company_tags"
  | "disabled"
  | "description"
  | "rate_limit"
  | "slow_concurrency"
  | "mtls_certificate"
  | "consecutive_failures"
  | "circuit_open_until"
  | "ordering"
  | "previous_secrets"
  | "shadow"
  | "shadow_test_url"
  | "replaces_id"
>;

/**
 * When the rotated-out secrets still signing stop. Their expiry is sealed
 * with them; a consumer whose secrets no configured key opens shows none
 * here (sending to it and reading its secret say why).
 */
function secretOverlapEnd(ctx: AppContext, row: ShownColumns): string | null {
  if (row.previous_secrets === null) return null;
  let expiries: number[];
  try {
    expiries = openPreviousSecrets(ctx.secretBox, row.id, row.previous_secrets).map((secret) => secret.expiresAt);
  } catch {
    return null;
  }
  const last = Math.max(...expiries);
  return last > ctx.clock.now() ? isoDate(last) : null;
}

function toResource(ctx: AppContext, row: ShownColumns): WebhookConsumerResource {
  return {
    id: row.id,
    url: row.url,
    disabled: row.disabled === 1,
    ...decodeSubscription(row),
    description: row.description ?? null,
    rateLimit: row.rate_limit ?? null,
    slowConcurrency: row.slow_concurrency ?? null,
    mtls: row.mtls_certificate ? describeCertificate(row.mtls_certificate) : null,
    ordering: row.ordering,
    circuit: {
      state: row.circuit_open_until === null ? "closed" : "open",
      consecutiveFailures: row.consecutive_failures,
      nextProbeAt: row.circuit_open_until === null ? null : isoDate(row.circuit_open_until),
    },
    secretOverlapEndsAt: secretOverlapEnd(ctx, row),
    shadow: row.shadow === 1 ? { testUrl: row.shadow_test_url } : null,
    replacesWebhookId: row.replaces_id,
  };
}

/** What the API shows of a client certificate: whom it names and when it expires. */
export function describeCertificate(pem: string): { subject: string; expiresAt: string } {
  const certificate = new X509Certificate(pem);
  return { subject: certificate.subject.split("\n").join(", "), expiresAt: isoDate(Date.parse(certificate.validTo)) };
}

/** The client's consumer, or 404 (also for another client's ids). */
function found(row: ConsumerRow | undefined): ConsumerRow {
  if (!row) throw notFound("Webhook consumer");
  return row;
}

/** The distinct event types, in the order first given. */
const distinct = (eventTypes: readonly string[]): string[] => [...new Set(eventTypes)];

/**
 * Changes one consumer of the client in a transaction: `change` gets the
 * current row (locked, so concurrent changes apply one after the other) and
 * returns the columns to set. 404 for another client's ids.
 */
export async function changeConsumer(
  ctx: AppContext,
  clientId: ClientId,
  consumerId: ConsumerId,
  change: (row: ConsumerRow, uow: UnitOfWork) => Promise<ConsumerChanges> | ConsumerChanges,
): Promise<WebhookConsumerResource> {
  return ctx.store.transaction(async (uow) => {
    const row = found(await lockConsumer(uow.tx, clientId, consumerId));
    const changes = await change(row, uow);
    await updateConsumerColumns(uow.tx, clientId, consumerId, changes);
    return toResource(ctx, { ...row, ...changes });
  });
}

/** A legacy consumer's replacement, created in shadow mode by its migration's expand step (domain/legacy-migration.ts). */
export interface ShadowReplacement {
  replaces: ConsumerId;
  testUrl: string | null;
  /** Runs in the creation's transaction before the insert: checks and records the step. */
  within: (uow: UnitOfWork, replacementId: ConsumerId) => Promise<void>;
}

/**
 * `listen`: a consumer whose deliveries go over a listening CLI's stream
 * (domain/listen.ts), its URL made here, never sent to. `replacing`: a legacy
 * consumer's replacement, in shadow mode from its first delivery.
 */
export async function createConsumer(
  ctx: AppContext,
  clientId: ClientId,
  input: ConsumerInput,
  { listen = false, replacing }: { listen?: boolean; replacing?: ShadowReplacement } = {},
): Promise<WebhookConsumerResource> {
  assertValid(ctx, { eventTypes: input.eventTypes, companyTags: input.companyTags });
  if (!listen) await ctx.destinations.assertAllowedUrl(input.url);
  const id = newId<ConsumerId>();
  const row = {
    id,
    client_id: clientId,
    url: listen ? listenUrl(id) : input.url,
    event_types: encodeEventTypes(distinct(input.eventTypes)),
    company_tags: encodeCompanyTags(input.companyTags),
    disabled: input.disabled ? 1 : 0,
    signing_secret: sealSigningSecret(ctx.secretBox, id, newSigningSecret()),
    created_at: ctx.clock.now(),
    // Seen at birth: the sweep gives its CLI HOOKLINE_LISTEN_GRACE to open the stream.
    listen_seen_at: listen ? ctx.clock.now() : null,
    description: null,
    rate_limit: null,
    slow_concurrency: null,
    mtls_certificate: null,
    consecutive_failures: 0,
    circuit_open_until: null,
    ordering: "unordered" as const,
    shadow: replacing ? 1 : 0,
    shadow_test_url: replacing?.testUrl ?? null,
    replaces_id: replacing?.replaces ?? null,
  };
  await ctx.store.transaction(async (uow) => {
    if ((await countConsumersLockingClient(uow.tx, clientId)) >= ctx.config.limits.consumersPerClient) {
      throw badRequest(`This client already has ${ctx.config.limits.consumersPerClient} webhook consumers, the most it may have: delete one first`);
    }
    await replacing?.within(uow, id);
    await insertConsumer(uow.tx, row);
  });
  return toResource(ctx, { ...row, previous_secrets: null });
}

export async function listConsumers(ctx: AppContext, clientId: ClientId): Promise<{ results: WebhookConsumerResource[] }> {
  return { results: (await listConsumersOf(ctx.store.db, clientId)).map((row) => toResource(ctx, row)) };
}

export async function getConsumer(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<WebhookConsumerResource> {
  return toResource(ctx, found(await findConsumer(ctx.store.db, clientId, consumerId)));
}

/**
 * Changes the fields present in `update`, validated as on create. Enabling a
 * consumer starts its failure streak afresh. A new rate limit drops the send
 * slots reserved under the old one: the deliveries waiting for them fall due
 * at once and are paced under the new limit (or sent, without one).
 */
export async function updateConsumer(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId, update: ConsumerUpdate): Promise<WebhookConsumerResource> {
  assertValid(ctx, update);
  found(await findConsumer(ctx.store.db, clientId, consumerId));
  if (update.url !== undefined) await ctx.destinations.assertAllowedUrl(update.url);
  const releases = new Releases();
  const updated = await changeConsumer(ctx, clientId, consumerId, async (row, uow) => {
    const changes: ConsumerChanges = {};
    if (update.url !== undefined && update.url !== row.url) Object.assign(changes, { url: update.url }, closedCircuit(row, releases));
    if (update.eventTypes !== undefined) changes.event_types = encodeEventTypes(distinct(update.eventTypes));
    if (update.companyTags !== undefined) changes.company_tags = encodeCompanyTags(update.companyTags);
    if (update.description !== undefined) changes.description = update.description;
    if (update.disabled !== undefined) Object.assign(changes, enabledChanges(row, !update.disabled, releases));
    if (update.ordering !== undefined && update.ordering !== row.ordering) {
      changes.ordering = update.ordering;
      // Its lines are no longer the same: what is behind another in its new line waits, and what heads one goes.
      releases.lines = update.ordering;
    }
    if (update.slowConcurrency !== undefined) changes.slow_concurrency = update.slowConcurrency;
    if (update.rateLimit !== undefined && update.rateLimit !== row.rate_limit) {
      changes.rate_limit = update.rateLimit;
      changes.rate_next_at = null;
      if (await releaseRateSlots(uow.tx, consumerId, ctx.clock.now())) uow.wakeWorkers();
    }
    return changes;
  });
  await releases.finish(ctx, consumerId);
  return updated;
}

/**
 * What a change to a consumer releases once it commits, a step of at most
 * RELEASE_STEP deliveries per transaction, so that a consumer holding a huge
 * backlog never makes one giant write: what its open circuit held (from
 * `circuitOpenUntil`, the end of its last cool-down), its deliveries put in
 * the lines of its new ordering. Should the process stop first, the
 * slot-release job frees what a closed circuit still holds.
 */
export class Releases {
  circuitOpenUntil: number | null = null;
  /** The consumer's new ordering, when it changed: its deliveries are put in their new lines. */
  lines: ConsumerOrdering | null = null;

  async finish(ctx: AppContext, consumerId: ConsumerId): Promise<void> {
    const now = () => ctx.clock.now();
    // Up to a lease past the circuit's end: records of batches in flight together commit in either order, each
    // with its own time, so a probe one of them made due can fall after the end another one set last.
    if (this.circuitOpenUntil !== null) await releaseInSteps(ctx.store, consumerId, now, this.circuitOpenUntil + ctx.config.delivery.leaseMs);
    const ordering = this.lines;
    if (ordering !== null) while (await ctx.store.transaction((uow) => relineConsumer(uow, consumerId, ordering, now())));
  }
}

/** Enabling a consumer starts its failure streak afresh and closes its circuit. */
export function enabledChanges(row: ConsumerRow, enabled: boolean, releases: Releases): ConsumerChanges {
  if (enabled === (row.disabled === 0)) return {};
  return enabled ? { disabled: 0, failing_since: null, ...closedCircuit(row, releases) } : { disabled: 1 };
}

/**
 * A consumer enabled again or given a new URL starts with a closed circuit:
 * its run of failures says nothing about the endpoint now, and the deliveries
 * its open circuit held are sent (by `releases`, once closed).
 */
function closedCircuit(row: ConsumerRow, releases: Releases): ConsumerChanges {
  if (row.circuit_open_until === null && row.consecutive_failures === 0) return {};
  releases.circuitOpenUntil = row.circuit_open_until;
  return { consecutive_failures: 0, circuit_open_until: null };
}

/** Enables or disables a consumer. While disabled, attempts that fall due are skipped; the rest of each schedule goes on once enabled. */
export async function setConsumerEnabled(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId, enabled: boolean): Promise<WebhookConsumerResource> {
  const releases = new Releases();
  const updated = await changeConsumer(ctx, clientId, consumerId, (row) => enabledChanges(row, enabled, releases));
  await releases.finish(ctx, consumerId);
  return updated;
}

export async function getSigningSecret(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<{ key: string }> {
  return { key: openSigningSecret(ctx.secretBox, consumerId, found(await findConsumer(ctx.store.db, clientId, consumerId)).signing_secret) };
}

/**
 * Replaces the signing secret. The old one keeps signing beside the new one
 * for the configured overlap, so receivers can switch secrets without
 * rejecting a delivery; secrets whose overlap ended are dropped.
 */
export async function rotateSigningSecret(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<{ key: string }> {
  const key = newSigningSecret();
  await changeConsumer(ctx, clientId, consumerId, (row) => {
    const now = ctx.clock.now();
    const previous = openPreviousSecrets(ctx.secretBox, consumerId, row.previous_secrets).filter((secret) => secret.expiresAt > now);
    if (ctx.config.consumers.secretRotationOverlapMs > 0)
      previous.unshift({
        key: openSigningSecret(ctx.secretBox, consumerId, row.signing_secret),
        expiresAt: now + ctx.config.consumers.secretRotationOverlapMs,
      });
    return { signing_secret: sealSigningSecret(ctx.secretBox, consumerId, key), previous_secrets: sealPreviousSecrets(ctx.secretBox, consumerId, previous) };
  });
  return { key };
}

/**
 * Deletes a consumer and with it every attempt still scheduled for it. With
 * `onlyIf` (the sweep of abandoned listen consumers), only while the locked
 * row passes it, and a consumer already gone is no error: returns whether it deleted.
 */
export async function deleteConsumer(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId, onlyIf?: (row: ConsumerRow) => boolean): Promise<boolean> {
  return ctx.store.transaction(async ({ tx }) => {
    const row = await lockConsumer(tx, clientId, consumerId);
    if (onlyIf === undefined) found(row);
    else if (row === undefined || !onlyIf(row)) return false;
    await deleteConsumerWithin(tx, clientId, consumerId);
    return true;
  });
}

/** Deletes a consumer the transaction found: its deliveries, its history and its row. */
export async function deleteConsumerWithin(tx: Tx, clientId: ClientId, consumerId: ConsumerId): Promise<void> {
  await deleteDeliveriesOfConsumer(tx, clientId, consumerId);
  await deleteHistoryOf(tx, clientId, consumerId);
  await deleteConsumerRow(tx, clientId, consumerId);
}

/** The consumer's history (the steps of a legacy migration), oldest first (`GET /webhooks/{webhookId}/history`). */
export async function getConsumerHistory(
  ctx: AppContext,
  clientId: ClientId,
  consumerId: ConsumerId,
): Promise<{ results: Array<{ at: string; action: string; detail: Record<string, unknown> }> }> {
  found(await findConsumer(ctx.store.db, clientId, consumerId));
  return { results: (await listHistory(ctx.store.db, clientId, consumerId)).map((entry) => ({ ...entry, at: isoDate(entry.at) })) };
}
