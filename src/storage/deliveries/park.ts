import type { ConsumerId, DeliveryId } from "../../ids.ts";
import { takeProbe } from "../consumer-circuit.ts";
import type { Db, Store, Tx, UnitOfWork } from "../database.ts";
import type { ParkedReason } from "../schema.ts";
import { handBack } from "./hand-back.ts";
import { oneConsumerOldestFirst } from "./one-consumer.ts";

// Deliveries wait "parked": due at a time no clock reaches, so no claim takes them, until what they wait for
// releases them. Waiting spends no attempt. Each records why it waits (`parked_reason`), and each release
// releases only its own: a circuit closing those its circuit held, a slow consumer's freed slots those that
// waited for a slot, a line's head ending the next in that line (deliveries/fifo.ts).

/** The due time of a parked delivery: the latest time a JavaScript Date holds. */
export const PARKED_AT = 8_640_000_000_000_000;

/** Parks leased deliveries, given back without counting their claim, to wait for `reason`. */
export const parkLeased = (db: Db, owner: string, ids: readonly DeliveryId[], reason: ParkedReason) => handBack(db, owner, ids, PARKED_AT, reason);

/** Parks the deliveries (those still pending and not leased, nor already parked): their consumer's circuit is open. */
export async function parkDeliveries(tx: Tx, ids: readonly DeliveryId[]): Promise<void> {
  if (ids.length === 0) return;
  await tx
    .updateTable("deliveries")
    .set({ next_attempt_at: PARKED_AT, parked_reason: "circuit" })
    .where("id", "in", ids)
    .where("next_attempt_at", "is not", null)
    .where("next_attempt_at", "<", PARKED_AT)
    .where("lease_owner", "is", null)
    .execute();
}

/**
 * Makes one parked delivery of the consumer due at `probeAt`, the end of its
 * circuit's cool-down, so that a probe goes then: the one that has spent
 * fewest attempts, so that a long outage spreads its probes' attempts over
 * the held deliveries rather than using up one delivery's schedule; for an
 * ordered consumer, the oldest the circuit holds, the head of a line (what
 * waits behind a head waits for its line, not for the circuit). With none
 * parked, the next delivery claimed after the cool-down probes.
 */
export async function designateProbe(tx: Tx, consumerId: ConsumerId, probeAt: number, choice: "fewest attempts" | "head of line"): Promise<void> {
  // What waits in line is not a head: only those the circuit holds may probe.
  const held = tx.selectFrom("deliveries").select("id").where("parked_reason", "=", "circuit");
  const probe =
    choice === "head of line" ? oneConsumerOldestFirst(held, consumerId) : held.where("consumer_id", "=", consumerId).orderBy("attempt_count").orderBy("id");
  await tx.updateTable("deliveries").set({ next_attempt_at: probeAt, parked_reason: null }).where("id", "in", probe.limit(1)).execute();
}

/**
 * How many parked deliveries of one consumer one statement releases (its
 * circuit closed, or its line ended): a large backlog is released in such
 * steps, each a short write, so that publishes and other consumers' records
 * never wait long behind it.
 */
export const RELEASE_STEP = 2000;

/**
 * The consumers' circuits closed: what they held falls due `now` (the
 * deliveries parked by the circuit, and those due by the end of its last
 * cool-down, the probe among them), and the workers are woken for them. What
 * waits for anything else (its line's head, a slot) stays. With `step`, at
 * most that many per consumer, and only while its circuit stays closed;
 * returns the consumers that may hold more, for the caller to release in
 * further steps (releaseInSteps; should it stop first, the slot-release job
 * frees them).
 */
export async function releaseParked(
  { tx, wakeWorkers }: UnitOfWork,
  circuits: ReadonlyArray<{ consumerId: ConsumerId; openUntil: number }>,
  now: number,
  step?: number,
): Promise<ConsumerId[]> {
  let released = 0n;
  const more: ConsumerId[] = [];
  for (const { consumerId, openUntil } of circuits) {
    // Pending, all of them (said for the index of pending deliveries, which a step reads them through).
    const pending = tx
      .selectFrom("deliveries")
      .select("id")
      .where("next_attempt_at", "is not", null)
      .where("lease_owner", "is", null)
      .where((eb) => eb.or([eb("parked_reason", "=", "circuit"), eb.and([eb("next_attempt_at", ">", now), eb("next_attempt_at", "<=", openUntil)])]));
    const held = step === undefined ? pending.where("consumer_id", "=", consumerId) : oneConsumerOldestFirst(pending, consumerId).limit(step);
    let release = tx.updateTable("deliveries").set({ next_attempt_at: now, parked_reason: null }).where("id", "in", held);
    if (step !== undefined)
      release = release.where((eb) => eb.exists(eb.selectFrom("consumers").select("id").where("id", "=", consumerId).where("circuit_open_until", "is", null)));
    const result = await release.executeTakeFirst();
    released += result.numUpdatedRows;
    if (step !== undefined && result.numUpdatedRows === BigInt(step)) more.push(consumerId);
  }
  if (released > 0n) wakeWorkers();
  return more;
}

/**
 * Releases what a consumer's closed circuit held, a step per transaction,
 * while the circuit stays closed. `openUntil`, the end of its last cool-down,
 * says what every step releases beside the parked deliveries: the new events'
 * deliveries made due then, which are the newest, so a backlog of more than
 * one step leaves them to the last steps. Without it (the first step went in
 * the transaction that closed the circuit, at the end of its cool-down) the
 * steps take the parked ones. Should it fail or its process stop, the
 * slot-release job frees the rest.
 */
export async function releaseInSteps(store: Store, consumerId: ConsumerId, now: () => number, openUntil?: number): Promise<void> {
  for (let more = true; more;) {
    const at = now();
    const circuit = { consumerId, openUntil: openUntil ?? at };
    more = (await store.transaction((uow) => releaseParked(uow, [circuit], at, RELEASE_STEP))).length > 0;
  }
}

/** A claimed delivery to a consumer whose circuit is open, and until when it is. */
export interface CircuitHeld {
  id: DeliveryId;
  consumerId: ConsumerId;
  attemptCount: number;
  circuitOpenUntil: number;
}

/**
 * Holds back claimed deliveries whose consumer's circuit is open, without
 * spending an attempt. Once the cool-down has ended, the delivery of each
 * consumer that has spent fewest attempts becomes the probe if this claim is
 * the first to take it (it is then not held); before, that one goes back due
 * at the cool-down's end, so that a probe goes then whatever else is parked.
 * The rest are parked. `probeUntil` is the claim's lease: another probe may
 * go once it runs out. Returns the deliveries held.
 */
export async function holdForOpenCircuits(
  store: Store,
  owner: string,
  now: number,
  probeUntil: number,
  claimed: readonly CircuitHeld[],
): Promise<Set<DeliveryId>> {
  const candidates = new Map<ConsumerId, CircuitHeld>();
  for (const delivery of claimed) {
    const best = candidates.get(delivery.consumerId);
    if (best === undefined || delivery.attemptCount < best.attemptCount) candidates.set(delivery.consumerId, delivery);
  }
  const probes = new Set<DeliveryId>();
  const toCoolDownEnd = new Set<DeliveryId>();
  for (const { id, consumerId, circuitOpenUntil } of candidates.values()) {
    if (circuitOpenUntil > now) {
      await store.writeStatement((db) => handBack(db, owner, [id], circuitOpenUntil));
      toCoolDownEnd.add(id);
    } else if (await store.writeStatement((db) => takeProbe(db, consumerId, circuitOpenUntil, probeUntil))) probes.add(id);
  }
  const parked = claimed.filter(({ id }) => !probes.has(id) && !toCoolDownEnd.has(id)).map(({ id }) => id);
  if (parked.length > 0) await store.writeStatement((db) => parkLeased(db, owner, parked, "circuit"));
  return new Set(claimed.filter(({ id }) => !probes.has(id)).map(({ id }) => id));
}

/**
 * Attempts to slow consumers ended, freeing their slots: of each consumer,
 * up to the given count of its deliveries parked for a slot fall due `now`,
 * oldest first, or all of them for a null count (the consumer is no longer
 * slow). Run in the transaction that records the attempts.
 */
export async function releaseForSlots({ tx, wakeWorkers }: UnitOfWork, freed: ReadonlyMap<ConsumerId, number | null>, now: number): Promise<void> {
  let released = 0n;
  for (const [consumerId, count] of freed) {
    let parked = oneConsumerOldestFirst(tx.selectFrom("deliveries").select("id").where("parked_reason", "=", "slot"), consumerId);
    if (count !== null) parked = parked.limit(count);
    const result = await tx.updateTable("deliveries").set({ next_attempt_at: now, parked_reason: null }).where("id", "in", parked).executeTakeFirst();
    released += result.numUpdatedRows;
  }
  if (released > 0n) wakeWorkers();
}

/**
 * Releases what waits for a worker that stopped: the deliveries parked for a
 * slot of a consumer that has no attempt in flight (no delivery leased until
 * within `leaseMs` from now; the worker that parked them stopped before its
 * attempts ended and freed the slots), and those a circuit that closed held
 * still (its release in steps stopped). Returns how many fell due.
 */
export async function releaseStrandedSlots(db: Db, now: number, leaseMs: number): Promise<number> {
  const inFlight = db
    .selectFrom("deliveries")
    .select("consumer_id")
    .where("next_attempt_at", ">", now)
    .where("next_attempt_at", "<=", now + leaseMs)
    .where("lease_owner", "is not", null);
  const closed = db.selectFrom("consumers").select("id").where("circuit_open_until", "is", null);
  const result = await db
    .updateTable("deliveries")
    .set({ next_attempt_at: now, parked_reason: null })
    // Read through the due-time index: only what is parked, however much else is queued.
    .where("next_attempt_at", "=", PARKED_AT)
    .where((eb) =>
      eb.or([
        eb.and([eb("parked_reason", "=", "slot"), eb("consumer_id", "not in", inFlight)]),
        eb.and([eb("parked_reason", "=", "circuit"), eb("consumer_id", "in", closed)]),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
