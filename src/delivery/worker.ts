import type { Logger } from "pino";
import { isoDate, type Clock } from "../clock.ts";
import type { DeliveryConfig } from "../config.ts";
import { newId, type AttemptId, type ConsumerId, type DeliveryId, type MessageId } from "../ids.ts";
import type { AppContext } from "../domain/context.ts";
import type { SecretBox } from "../secret-box.ts";
import { isDatabaseUnavailable, type Db, type Store } from "../storage/database.ts";
import { claimLeaseBatch, type DueDelivery } from "../storage/deliveries/claim-batch.ts";
import { isOrdered } from "../constants/statuses.ts";
import { advanceLines, distinctLines, lineOf } from "../storage/deliveries/fifo.ts";
import { leaseDueDeliveries, leaseFreshDeliveries, type Lease } from "../storage/deliveries/lease.ts";
import { nextDueAt } from "../storage/deliveries/next-due.ts";
import { parkLeased, releaseForSlots, releaseInSteps } from "../storage/deliveries/park.ts";
import { recordOutcomes, type DeliveryUpdate } from "../storage/deliveries/record-outcomes.ts";
import { batchAlertAuthorizations } from "./batch-alert-auth.ts";
import { batchSecrets } from "./batch-secrets.ts";
import { batchTransformations } from "./batch-transformations.ts";
import { hasHealthChanges, healthChanges, recordHealthChanges, type CircuitChange } from "./consumer-health.ts";
import type { BatchSender, EarlyResults } from "./pipeline.ts";
import { packBatch } from "./pipeline/prepare.ts";
import type { AttemptResult } from "./pipeline/request.ts";
import { afterFailure, retryAfterDelayMs } from "./schedule.ts";

/**
 * A failure this soon after delivery resumed belongs to the same outage (a
 * pooled connection that died with the database fails once more when next
 * used): it pauses delivery again without saying so a second time.
 */
const OUTAGE_SETTLE_MS = 30_000;

/** How many times one batch's record is tried at most; each try may wait out the database's lock timeout (5 s on SQLite). */
const MAX_RECORD_TRIES = 10;

/** What the fresh lane takes: the deliveries that fell due within this long. Older ones are the batches' to send. */
const FRESH_WITHIN_MS = 1000;

/**
 * Claims due deliveries in batches, has them sent concurrently and records
 * the outcomes in one write per batch. Everything it knows is in the
 * database, so a worker that dies loses nothing: its leases run out and
 * another (or the restarted one) takes the deliveries over. It does the
 * database work on the process's main thread while the sender thread signs
 * and sends, so the two run on two cores.
 */
export class DeliveryWorker {
  private readonly owner = `worker-${newId()}`;
  private running = false;
  private loops: Array<Promise<void>> = [];
  /** The most batches in flight at once: one per batch loop, and the fresh lane's. */
  private readonly batchesInFlight: number;
  /** The batch loops sending or recording a batch now; when all are, the fresh lane takes what falls due. */
  private busyLoops = 0;
  /** Counts wake-ups, so a loop knows whether one came while it was busy. */
  private wakeups = 0;
  private readonly sleepers = new Set<() => void>();
  private unsubscribe: (() => void) | undefined;
  private readonly debug: boolean;
  /** Set while the database is unavailable: said once when delivery pauses, once when it resumes; `quietly` within an outage's settling time. */
  private paused: false | "said" | "quietly" = false;
  /** When delivery last resumed after an outage (the clock's time), or never. */
  private resumedAt = Number.NEGATIVE_INFINITY;

  /** Consumers known to be slow, and how many of their attempts are in flight apart from the batches. */
  private readonly slow = new Map<ConsumerId, number>();
  /** Work apart from the loops (slow consumers' records, releases of what closed circuits held); a stop waits for it. */
  private readonly detached = new Set<Promise<void>>();

  private readonly store: Store;
  private readonly config: DeliveryConfig;
  private readonly clock: Clock;
  /** Opens consumers' sealed secrets, once per consumer of a batch. */
  private readonly secretBox: SecretBox;
  private readonly log: Logger;

  constructor(
    ctx: AppContext,
    private readonly sender: BatchSender,
    /** Told of every batch once it is recorded (for the metrics). */
    private readonly onRecorded: (updates: readonly DeliveryUpdate[]) => void = () => undefined,
  ) {
    ({ store: this.store, clock: this.clock, secretBox: this.secretBox } = ctx);
    this.config = ctx.config.delivery;
    this.batchesInFlight = this.config.concurrency + (this.config.freshBatchSize > 0 ? 1 : 0);
    this.log = ctx.logger.child({ component: "worker" });
    this.debug = this.log.isLevelEnabled("debug");
  }

  async start(): Promise<void> {
    this.running = true;
    this.unsubscribe = await this.store.onWake(() => this.wake());
    // Several batches in flight: one is sent while another is claimed or recorded.
    this.loops = Array.from({ length: this.config.concurrency }, () => this.run());
    if (this.config.freshBatchSize > 0) this.loops.push(this.runFreshLane());
  }

  /** Stops claiming new work and waits for the attempts in flight to be sent and recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.wake();
    await Promise.all(this.loops);
    while (this.detached.size > 0) await Promise.all(this.detached);
  }

  private wake(): void {
    this.wakeups++;
    for (const sleeper of this.sleepers) sleeper();
  }

  private async run(): Promise<void> {
    let leased: Lease | null = null;
    // A batch leased while recording the last is sent even when a stop came meanwhile: it is in flight too.
    while (this.running || leased !== null) {
      const seen = this.wakeups;
      let more = false;
      let failed = false;
      this.busyLoops++;
      try {
        const lease = leased ?? (await this.store.writeStatement((tx) => this.leaseDue(tx)));
        const { claimed, next } = await this.processBatch(lease, true);
        leased = next;
        more = leased !== null || claimed === this.config.batchSize;
        this.resumed();
      } catch (error) {
        // What this loop held is taken over when its leases run out.
        leased = null;
        failed = true;
        this.failed(error);
      } finally {
        this.busyLoops--;
      }
      if (failed) await this.sleep(this.config.idlePollMs, seen);
      else if (!more) await this.sleepUntilDue(seen);
    }
  }

  /**
   * The fresh lane: while every batch loop is busy (with a backlog, say: a
   * consumer's circuit closing on thousands of held deliveries), what just
   * fell due, other consumers' fresh events for the most part, would wait for
   * one of them to finish a whole batch. This loop takes it instead, in
   * batches of at most `freshBatchSize`, as new deliveries wake the worker;
   * while a batch loop is free it leaves the work to that one.
   */
  private async runFreshLane(): Promise<void> {
    while (this.running) {
      const seen = this.wakeups;
      if (this.busyLoops === this.config.concurrency) {
        try {
          const now = this.clock.now();
          const { freshBatchSize, leaseMs } = this.config;
          const lease = await this.store.writeStatement((tx) =>
            leaseFreshDeliveries(tx, this.newLeaseOwner(), now, leaseMs, freshBatchSize, now - FRESH_WITHIN_MS),
          );
          const { claimed } = await this.processBatch(lease, false);
          this.resumed();
          if (claimed === freshBatchSize) continue;
        } catch (error) {
          this.failed(error);
        }
      }
      await this.sleep(this.config.idlePollMs, seen);
    }
  }

  /** A batch went through: the database answers, if delivery was paused. */
  private resumed(): void {
    if (!this.paused) return;
    if (this.paused === "said") this.log.info("the database answers again; delivery resumed");
    this.paused = false;
    this.resumedAt = this.clock.now();
  }

  private failed(error: unknown): void {
    if (!isDatabaseUnavailable(error)) this.log.error({ err: error }, "delivery batch failed; retrying after the idle interval");
    else if (!this.paused) {
      const cause = (error as Error).message;
      this.paused = this.clock.now() - this.resumedAt < OUTAGE_SETTLE_MS ? "quietly" : "said";
      if (this.paused === "said") this.log.warn({ cause }, "the database is unavailable; delivery paused, trying again every idle interval");
      else this.log.debug({ cause }, "the database failed again right after delivery resumed; paused again");
    }
  }

  /**
   * Sends and records one leased batch. When the batch was full there is
   * likely more due, and when it sent lines' heads the next in their lines
   * fall due as it is recorded, so the next batch is leased in the
   * transaction that records this one (one commit for both), when
   * `mayLeaseNext`. Returns how many deliveries the lease took (some may wait
   * for a rate-limit slot) and the next batch's lease, if one was taken.
   *
   * Slow consumers do not hold the batch: deliveries to a consumer known to
   * be slow go out apart, and a consumer with an attempt still unanswered
   * after the slow-consumer time is split off then, its deliveries recorded
   * when they end while this loop records the rest and goes on.
   */
  private async processBatch(lease: Lease, mayLeaseNext: boolean): Promise<{ claimed: number; next: Lease | null }> {
    // The batches in flight, one per loop (the fresh lane's included), share the body budget: together they hold at most the whole of it.
    const claimedBatch = await claimLeaseBatch(this.store, lease, this.clock, this.config.bodyBudgetBytes / this.batchesInFlight);
    const claimed = lease.ids.length;
    if (claimedBatch.deliveries.length === 0) return { claimed, next: null };
    const { batch, apart } = await this.setApartSlow(lease, claimedBatch.deliveries);
    const { bodies } = claimedBatch;
    if (apart.length > 0)
      this.detach(
        lease,
        apart,
        this.send(apart, bodies).then((results) => resultsOf(apart, results)),
      );
    if (batch.length === 0) return { claimed, next: null };

    let early: EarlyResults | undefined;
    let earlyCame = () => undefined as void;
    const earlyResults = new Promise<void>((resolve) => (earlyCame = resolve));
    const toSend = sendable(batch);
    const all = this.send(toSend, bodies, (results) => {
      early = results;
      earlyCame();
    });
    await Promise.race([all, earlyResults]);
    // A full batch leaves more due; a batch that sent lines' heads makes the next in each line due as it is recorded.
    const leaseNext = mayLeaseNext && this.running && (claimed === this.config.batchSize || batch.some((delivery) => isOrdered(delivery.ordering)));
    if (early === undefined) return { claimed, next: await this.record(lease, batch, resultsOf(toSend, await all), leaseNext) };

    // Some are still unanswered: their consumers are slow, and all their deliveries of this batch wait apart.
    const answered = early;
    const slow = new Set(toSend.filter((_, index) => answered[index] === undefined).map((delivery) => delivery.consumerId));
    const waiting = batch.filter((delivery) => slow.has(delivery.consumerId));
    this.detach(
      lease,
      waiting,
      all.then((results) => resultsOf(toSend, results)),
    );
    const now = batch.filter((delivery) => !slow.has(delivery.consumerId));
    return { claimed, next: await this.record(lease, now, resultsOf(toSend, answered), leaseNext) };
  }

  /**
   * Takes out of a claimed batch the deliveries to consumers known to be
   * slow, up to each one's concurrency; those over it are parked, spending
   * no attempt, until attempts of their consumer end and free slots (see
   * detach). The consumers in question are those with attempts in flight
   * apart from the batches, or that had one when their last batch ended.
   * `fifo` consumers are left alone: they send one at a time anyway. A
   * `fifo-by-company` consumer sends one per company at a time, as many at
   * once as it has companies, so it is capped like an unordered one: a line's
   * head parked over the cap falls due with the freed slots, still its line's head.
   */
  private async setApartSlow(lease: Lease, deliveries: DueDelivery[]): Promise<{ batch: DueDelivery[]; apart: DueDelivery[] }> {
    if (this.slow.size === 0) return { batch: deliveries, apart: [] };
    const batch: DueDelivery[] = [];
    const apart: DueDelivery[] = [];
    const over: DeliveryId[] = [];
    const taken = new Map<ConsumerId, number>();
    for (const delivery of deliveries) {
      const inFlight = this.slow.get(delivery.consumerId);
      if (inFlight === undefined || delivery.ordering === "fifo" || delivery.disabled || delivery.lostClaims > 0) batch.push(delivery);
      else {
        const count = (taken.get(delivery.consumerId) ?? 0) + 1;
        taken.set(delivery.consumerId, count);
        if (inFlight + count <= (delivery.slowConcurrency ?? this.config.slowConsumerConcurrency)) apart.push(delivery);
        else over.push(delivery.id);
      }
    }
    if (over.length > 0) await this.store.writeStatement((db) => parkLeased(db, lease.owner, over, "slot"));
    return { batch, apart };
  }

  /**
   * Records deliveries to slow consumers once their attempts end, apart from
   * the loop that claimed them. Until then each counts against its
   * consumer's concurrency. Their record frees as many slots: as many of the
   * consumer's parked deliveries fall due, or all of them when every attempt
   * came back within the slow-consumer time (it is slow no longer). Should
   * the record fail, the lease runs out and another claim takes the
   * deliveries over.
   */
  private detach(lease: Lease, deliveries: DueDelivery[], results: Promise<ReadonlyMap<DeliveryId, AttemptResult>>): void {
    const consumers = new Map<ConsumerId, number>();
    for (const { consumerId } of deliveries) consumers.set(consumerId, (consumers.get(consumerId) ?? 0) + 1);
    for (const [consumerId, count] of consumers) this.slow.set(consumerId, (this.slow.get(consumerId) ?? 0) + count);
    const recorded = results
      .then(async (byDelivery) => {
        const stillSlow = new Set(
          deliveries.filter((delivery) => (byDelivery.get(delivery.id)?.durationMs ?? 0) >= this.config.slowConsumerMs).map((delivery) => delivery.consumerId),
        );
        const freed = new Map([...consumers].map(([consumerId, count]) => [consumerId, stillSlow.has(consumerId) ? count : null]));
        await this.record(lease, deliveries, byDelivery, false, freed);
        return stillSlow;
      })
      .catch((error: unknown) => {
        this.log.error(
          { err: error, deliveries: deliveries.length },
          "recording a slow consumer's deliveries failed; they are sent again when their lease runs out",
        );
        return new Set(consumers.keys());
      })
      .then((stillSlow) => {
        for (const [consumerId, count] of consumers) {
          const left = this.slow.get(consumerId)! - count;
          if (left > 0 || stillSlow.has(consumerId)) this.slow.set(consumerId, left);
          else this.slow.delete(consumerId);
        }
      });
    this.track(recorded);
  }

  /** Keeps work done apart from the loops, for a stop to wait for. */
  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.detached.delete(tracked));
    this.detached.add(tracked);
  }

  /**
   * Releases what a closed circuit held beyond the first step, a step per
   * transaction, while the circuit stays closed. Should it fail or the worker
   * stop, the slot-release job frees the rest.
   */
  private async releaseRestOfParked(consumerId: ConsumerId): Promise<void> {
    try {
      await releaseInSteps(this.store, consumerId, () => this.clock.now());
    } catch (error) {
      this.log.error({ err: error, consumerId }, "releasing what a closed circuit held failed; the slot-release job frees the rest");
    }
  }

  /**
   * Records the outcomes of deliveries of a lease: `results` holds each sent
   * one's attempt (disabled consumers' deliveries are skipped, lost claims
   * counted). With `leaseNext`, the next batch is leased in the same
   * transaction, and returned. `freed`: the slots of slow consumers the
   * attempts freed (see detach).
   */
  private async record(
    lease: Lease,
    batch: DueDelivery[],
    results: ReadonlyMap<DeliveryId, AttemptResult>,
    leaseNext: boolean,
    freed: ReadonlyMap<ConsumerId, number | null> = new Map(),
  ): Promise<Lease | null> {
    // One time for the whole batch: its next attempts are scheduled from it and it is recorded with it.
    const now = this.clock.now();
    const updates = batch.map((delivery): DeliveryUpdate => {
      const result = delivery.disabled ? null : delivery.lostClaims > 0 ? lostAttempt(delivery.lostClaims, now) : results.get(delivery.id)!;
      const attempt = result === null ? null : this.attemptRecord(delivery, result);
      const attemptCount = delivery.attemptCount + 1;
      const next = attempt?.succeeded
        ? { status: "Success" as const, nextAttemptAt: null }
        : afterFailure(this.config.retryScheduleMs, attemptCount, now, retryAfterDelayMs(result?.retryAfter ?? null, now));
      return { deliveryId: delivery.id, attemptCount, ...next, attempt };
    });
    const health = healthChanges(batch, updates, now, this.config);
    // Ordered consumers' lines, and those whose head became final: the next in line may go.
    const lines = [...new Set(batch.filter((delivery) => isOrdered(delivery.ordering)).map((delivery) => delivery.consumerId))];
    const linesMoved = distinctLines(
      batch.filter((delivery, index) => isOrdered(delivery.ordering) && updates[index]!.nextAttemptAt === null).map((delivery) => lineOf(delivery)),
    );
    // Set by the record's transaction, the try that commits having the last word.
    let next = null as Lease | null;
    let circuits: CircuitChange[] = [];
    await this.recordWhileLeased(lease.expiresAt, () =>
      recordOutcomes(this.store, lease.owner, now, updates, async (uow) => {
        next = null;
        await advanceLines(uow, lines, linesMoved, now);
        if (hasHealthChanges(health)) circuits = await recordHealthChanges(uow, now, this.config, health);
        if (freed.size > 0) await releaseForSlots(uow, freed, now);
        if (leaseNext) next = await this.leaseDue(uow.tx);
      }),
    );
    for (const circuit of circuits) {
      this.logCircuit(circuit);
      if (circuit.moreParked) this.track(this.releaseRestOfParked(circuit.consumerId));
    }
    this.onRecorded(updates);
    return next !== null && next.ids.length > 0 ? next : null;
  }

  /**
   * Records a sent batch, trying again while its lease holds: outcomes left
   * unrecorded (the database busy past its lock timeout, a dropped connection)
   * would have the whole batch sent a second time once the lease runs out.
   */
  private async recordWhileLeased(leaseExpiresAt: number, record: () => Promise<void>): Promise<void> {
    for (let tries = 1, pause = 50; ; tries++, pause = Math.min(pause * 2, 1000)) {
      try {
        return await record();
      } catch (error) {
        if (tries >= MAX_RECORD_TRIES || this.clock.now() + pause >= leaseExpiresAt) throw error;
        this.log.warn({ err: error, tries }, "recording a delivery batch failed; trying again while its lease holds");
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  /**
   * Leases the next batch of due deliveries. A lease of its own per batch: a delivery resent and claimed
   * again by another of this worker's loops must not take the outcome of the attempt this loop still has
   * in flight. The lease starts when it is taken (a record may have waited for the database before).
   */
  private leaseDue(db: Db): Promise<Lease> {
    return leaseDueDeliveries(db, this.newLeaseOwner(), this.clock.now(), this.config.leaseMs, this.config.batchSize);
  }

  private newLeaseOwner(): string {
    return `${this.owner}-${newId()}`;
  }

  /**
   * Has the deliveries sent. When the sender fails the batch as a whole (its
   * thread ran out of memory or crashed), every attempt of it is a failure
   * with that reason: it is counted on the delivery's schedule like any other,
   * so a delivery that keeps crashing the sender reaches Failure.
   */
  private async send(deliveries: DueDelivery[], bodies: ReadonlyMap<MessageId, string>, early?: (results: EarlyResults) => void): Promise<AttemptResult[]> {
    if (deliveries.length === 0) return [];
    const transformations = await batchTransformations(this.store.db, deliveries);
    const authorizations = await batchAlertAuthorizations(this.store.db, this.secretBox, deliveries, bodies);
    try {
      return await this.sender.send(packBatch(deliveries, bodies, batchSecrets(this.secretBox), transformations, authorizations), early);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log.error({ err: error, deliveries: deliveries.length }, "sending a batch failed; its attempts are recorded as failed");
      const startedAt = this.clock.now();
      return deliveries.map(() => ({
        statusCode: null,
        durationMs: 0,
        responseExcerpt: null,
        succeeded: false,
        error: `Outcome unknown: ${reason}`,
        retryAfter: null,
        startedAt,
      }));
    }
  }

  private logCircuit({ consumerId, change, consecutiveFailures, openUntil }: CircuitChange): void {
    if (change === "closed") this.log.info({ consumerId }, "consumer circuit closed: the consumer answered; its held deliveries are sent");
    else
      this.log.warn(
        { consumerId, consecutiveFailures, probeAt: isoDate(openUntil!) },
        change === "opened" ? "consumer circuit opened: its deliveries wait for a probe" : "consumer circuit stays open: the probe failed",
      );
  }

  private attemptRecord(delivery: DueDelivery, result: AttemptResult): NonNullable<DeliveryUpdate["attempt"]> {
    // A failure is what an operator looks for at the default level: whose, which message, and why (never the URL,
    // which may carry credentials, nor the receiver's answer).
    if (!result.succeeded) {
      this.log.info(
        {
          consumerId: delivery.consumerId,
          messageId: delivery.messageId,
          attempt: delivery.attemptCount + 1,
          statusCode: result.statusCode,
          reason: result.error,
        },
        "delivery attempt failed",
      );
    } else if (this.debug) {
      // Guarded: building the log record for every attempt costs the hot path even when debug is off.
      this.log.debug(
        {
          messageId: delivery.messageId,
          consumerId: delivery.consumerId,
          attempt: delivery.attemptCount + 1,
          statusCode: result.statusCode,
          succeeded: result.succeeded,
        },
        "delivery attempt",
      );
    }
    return {
      id: newId<AttemptId>(),
      clientId: delivery.clientId,
      messageId: delivery.messageId,
      consumerId: delivery.consumerId,
      startedAt: result.startedAt,
      durationMs: result.durationMs,
      statusCode: result.statusCode,
      responseExcerpt: result.responseExcerpt,
      error: result.error,
      succeeded: result.succeeded,
    };
  }

  /** Sleeps until the next delivery falls due (at most the idle interval), unless a wake-up came since `seen`. */
  private async sleepUntilDue(seen: number): Promise<void> {
    if (this.wakeups !== seen || !this.running) return;
    let due: number | null = null;
    try {
      due = await nextDueAt(this.store.db);
    } catch (error) {
      // The database away (or the lookup failing): the idle interval, as after a failed batch.
      this.failed(error);
    }
    const wait = due === null ? this.config.idlePollMs : Math.min(Math.max(due - this.clock.now(), 0), this.config.idlePollMs);
    if (wait > 0) await this.sleep(wait, seen);
  }

  private sleep(ms: number, seen: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.wakeups !== seen || !this.running) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }
}

/** The deliveries of a batch that are sent: not those of disabled consumers, nor lost claims, which are only counted. */
const sendable = (deliveries: readonly DueDelivery[]) => deliveries.filter((delivery) => !delivery.disabled && delivery.lostClaims === 0);

/** Each sent delivery's result, from the results of `sent` in its order; those still unanswered are left out. */
function resultsOf(sent: readonly DueDelivery[], results: EarlyResults): Map<DeliveryId, AttemptResult> {
  const byDelivery = new Map<DeliveryId, AttemptResult>();
  sent.forEach((delivery, index) => {
    const result = results[index];
    if (result !== undefined) byDelivery.set(delivery.id, result);
  });
  return byDelivery;
}

/**
 * The attempt a lost claim stands for: its worker died after claiming the
 * delivery, perhaps while sending it, before it could record the outcome.
 * Counting it keeps a delivery whose sends take the process down from being
 * retried for ever; the next attempt follows the schedule.
 */
function lostAttempt(lostClaims: number, now: number): AttemptResult {
  const claims = lostClaims === 1 ? "the last claim" : `the last ${lostClaims} claims`;
  return {
    statusCode: null,
    durationMs: 0,
    responseExcerpt: null,
    succeeded: false,
    error: `Outcome unknown: the worker holding ${claims} stopped before recording it`,
    retryAfter: null,
    startedAt: now,
  };
}
