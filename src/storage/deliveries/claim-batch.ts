import type { Clock } from "../../clock.ts";
import type { ClientId, CompanyId, ConsumerId, DeliveryId, MessageId } from "../../ids.ts";
import type { Store } from "../database.ts";
import { readBodies } from "../messages.ts";
import type { ConsumerOrdering, DeliveryStatus } from "../schema.ts";
import { deleteOrphanedDeliveries } from "./delete-orphans.ts";
import { handBack } from "./hand-back.ts";
import { holdForOpenCircuits, type CircuitHeld } from "./park.ts";
import type { Lease } from "./lease.ts";
import { paceRateLimited } from "./rate-slots.ts";
import { readLeasedDeliveries, type LeasedDelivery } from "./read-lease.ts";

/** A claimed delivery with what sending it needs. */
export interface DueDelivery {
  id: DeliveryId;
  clientId: ClientId;
  messageId: MessageId;
  consumerId: ConsumerId;
  /** The company of its message (null without one): a `fifo-by-company` consumer's line. */
  companyId: CompanyId | null;
  attemptCount: number;
  status: DeliveryStatus;
  /** Claims of this delivery before this one that ended without a recorded outcome: their worker died while sending. */
  lostClaims: number;
  url: string;
  disabled: boolean;
  /** The consumer's secrets as stored, sealed: the worker opens them once per consumer of a batch (delivery/batch-secrets.ts). */
  signingSecret: string;
  /** Rotated-out secrets that still sign beside the current one until they expire, as stored; null when there are none. */
  previousSecrets: string | null;
  /** The consumer's own headers as stored; null when it has none. */
  customHeaders: string | null;
  /** The consumer's mTLS client certificate, its private key still sealed; null without mTLS. */
  clientCertificate: StoredClientCertificate | null;
  /** When the consumer's current streak of failed attempts began; null while it succeeds. */
  failingSince: number | null;
  /** Attempts in a row that found the consumer unreachable, as claimed. */
  consecutiveFailures: number;
  /** Set when this delivery is the probe of the consumer's open circuit (or went out as it opened): its cool-down's end. */
  circuitOpenUntil: number | null;
  /** Ordered (`fifo`, `fifo-by-company`): this delivery is the head of its line, and the next one goes once it is final. */
  ordering: ConsumerOrdering;
  /** The consumer's own cap on attempts in flight while it is slow; null: the deployment's. */
  slowConcurrency: number | null;
  /** The version of the consumer's enabled transformation; null without one. */
  transformationVersion: number | null;
  /** Set while the consumer is in shadow mode (a legacy consumer's replacement before its switch): never sent to its URL. */
  shadow: ShadowMode | null;
}

/** A shadow consumer's deliveries go to its test URL, or without one are recorded and not sent. */
export interface ShadowMode {
  testUrl: string | null;
}

export interface StoredClientCertificate {
  consumerId: ConsumerId;
  certificate: string;
  /** The PEM private key sealed by SecretBox for the consumer. */
  sealedKey: string;
}

/** A claimed batch: its deliveries, and the bodies of the messages the sendable ones carry, each once. */
export interface LeasedBatch {
  deliveries: DueDelivery[];
  /** Event bodies by message id, exactly as signed: one copy however many consumers a message goes to. */
  bodies: Map<MessageId, string>;
}

/** Only an attempt to send needs the body: skipped (disabled) and lost claims are recorded without one. */
const sends = (delivery: LeasedDelivery) => delivery.disabled === 0 && delivery.unrecordedClaims <= 1;

/**
 * Takes from a lease the batch to process now, with its consumers and the
 * bodies of its messages, and gives the rest back. Bodies are read once per
 * message, and a batch holds at most `bodyBudgetBytes` of bodies and custom
 * headers (see withinBodyBudget): the rest of the lease goes back to the
 * queue, due now. So one large event to hundreds of consumers costs one body,
 * and the memory of everything in flight has a bound in bytes whatever
 * tenants send. Deliveries to rate-limited consumers are paced: those whose
 * send slot lies ahead go back to the queue, and only the others are
 * returned. Its writes: deleting the deliveries whose consumer was deleted
 * meanwhile, handing back those over the budget, and pacing.
 */
export async function claimLeaseBatch(store: Store, lease: Lease, clock: Clock, bodyBudgetBytes: number): Promise<LeasedBatch> {
  const { owner, ids } = lease;
  if (ids.length === 0) return { deliveries: [], bodies: new Map() };
  const rows = await readLeasedDeliveries(store.db, lease);
  const found = new Set(rows.map((row) => row.id));
  const orphans = ids.filter((id) => !found.has(id));
  if (orphans.length > 0) await store.writeStatement((db) => deleteOrphanedDeliveries(db, owner, orphans));
  const { batch, overBudget } = withinBodyBudget(rows, bodyBudgetBytes);
  if (overBudget.length > 0) await store.writeStatement((db) => handBack(db, owner, overBudget, clock.now()));
  // Consumers whose circuit is closed (the common case) cost nothing more; disabled ones are skipped, not held.
  // An ordered consumer's deliveries need nothing here: only a line's head is ever due (deliveries/fifo.ts).
  const open = batch.filter((row): row is LeasedDelivery & CircuitHeld => row.circuitOpenUntil !== null && sends(row));
  const held = open.length > 0 ? await holdForOpenCircuits(store, owner, clock.now(), lease.expiresAt, open) : new Set<DeliveryId>();
  // Nor does a rate limit: only rate-limited consumers' deliveries are paced.
  const limited = batch.filter((row) => row.rateLimit !== null && sends(row) && !held.has(row.id));
  const waiting = limited.length > 0 ? await paceRateLimited(store, owner, clock, limited) : new Set<DeliveryId>();
  const processed = batch.filter((row) => !waiting.has(row.id) && !held.has(row.id));
  const messageIds = [...new Set(processed.filter(sends).map((row) => row.messageId))];
  return { deliveries: processed.map(dueDelivery), bodies: await readBodies(store.db, messageIds) };
}

/**
 * Splits leased deliveries, in order, into a batch whose sends carry at most
 * `budgetBytes` of bodies and custom headers (UTF-8 bytes, as sent; a body
 * counts once per message, the headers for each delivery, since each request
 * carries them), at least one send's, and the deliveries over the budget.
 */
function withinBodyBudget(rows: readonly LeasedDelivery[], budgetBytes: number): { batch: LeasedDelivery[]; overBudget: DeliveryId[] } {
  const batch: LeasedDelivery[] = [];
  const overBudget: DeliveryId[] = [];
  const budgeted = new Set<MessageId>();
  let bytes = 0;
  let sending = 0;
  for (const row of rows) {
    if (sends(row)) {
      const cost = Number(row.headerBytes) + (budgeted.has(row.messageId) ? 0 : Number(row.bodyBytes));
      if (sending > 0 && bytes + cost > budgetBytes) {
        overBudget.push(row.id);
        continue;
      }
      budgeted.add(row.messageId);
      bytes += cost;
      sending++;
    }
    batch.push(row);
  }
  return { batch, overBudget };
}

function dueDelivery(row: LeasedDelivery): DueDelivery {
  return {
    id: row.id,
    clientId: row.clientId,
    messageId: row.messageId,
    consumerId: row.consumerId,
    companyId: row.companyId,
    attemptCount: row.attemptCount,
    status: row.status,
    lostClaims: row.unrecordedClaims - 1,
    url: row.url,
    disabled: row.disabled === 1,
    signingSecret: row.signingSecret,
    previousSecrets: row.previousSecrets,
    customHeaders: row.customHeaders,
    clientCertificate:
      row.mtlsCertificate !== null && row.mtlsPrivateKey !== null
        ? { consumerId: row.consumerId, certificate: row.mtlsCertificate, sealedKey: row.mtlsPrivateKey }
        : null,
    failingSince: row.failingSince,
    consecutiveFailures: row.consecutiveFailures,
    circuitOpenUntil: row.circuitOpenUntil,
    ordering: row.ordering,
    slowConcurrency: row.slowConcurrency,
    transformationVersion: row.transformationVersion,
    shadow: row.shadow === 1 ? { testUrl: row.shadowTestUrl } : null,
  };
}
