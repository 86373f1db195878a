/**
 * The failure-streak rules, without a database: which outcomes start and end
 * a consumer's streak, and when a streak is long enough to disable it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadConfig } from "../../src/config.ts";
import { autoDisableCutoff, disabledReason, hasHealthChanges, healthChanges } from "../../src/delivery/consumer-health.ts";
import { asId, type ConsumerId } from "../../src/ids.ts";
import type { DueDelivery } from "../../src/storage/deliveries/claim-batch.ts";
import type { DeliveryUpdate } from "../../src/storage/deliveries/record-outcomes.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse("2024-08-13T09:30:00.000Z");
const FIVE_DAYS = 5 * DAY;

/** A claimed delivery to `consumerId`, whose streak began at `failingSince` (null: not failing), with its circuit as claimed. */
const due = (consumerId: string, failingSince: number | null, circuit: Partial<DueDelivery> = {}) =>
  ({
    id: `delivery to ${consumerId}`,
    consumerId,
    failingSince,
    lostClaims: 0,
    consecutiveFailures: 0,
    circuitOpenUntil: null,
    ordering: "unordered",
    ...circuit,
  }) as DueDelivery;

/** An attempt answered with `statusCode` (null: no answer), with a retry scheduled unless `final`. */
const answered = (statusCode: number | null, final = false) =>
  ({ nextAttemptAt: final ? null : NOW + 5000, attempt: { succeeded: statusCode !== null && statusCode < 300, statusCode } }) as DeliveryUpdate;
const attempted = (succeeded: boolean) => answered(succeeded ? 204 : 503);
/** An attempt skipped while the consumer was disabled: nothing was sent. */
const skipped = { attempt: null } as DeliveryUpdate;

/** No change at all, to spread the expected ones over. */
const none = { recovered: [], startedFailing: [], overdue: [], gone: [], reachable: [], unreachable: [] };
const BREAKER = { failures: 3, cooldownMs: 60_000 };

function changesFor(outcomes: Array<[DueDelivery, DeliveryUpdate]>, now = NOW, autoDisableAfterMs = FIVE_DAYS, circuitBreaker: typeof BREAKER | null = null) {
  return healthChanges(
    outcomes.map(([delivery]) => delivery),
    outcomes.map(([, update]) => update),
    now,
    { autoDisableAfterMs, circuitBreaker },
  );
}

describe("consumer health", () => {
  test("consumers are disabled after 5 days of failures unless configured otherwise", () => {
    assert.equal(loadConfig({}).delivery.autoDisableAfterMs, FIVE_DAYS);
  });

  test("a failure starts a streak; a consumer already failing does not start another", () => {
    const changes = changesFor([
      [due("healthy", null), attempted(false)],
      [due("failing", NOW - HOUR), attempted(false)],
    ]);
    assert.deepEqual(changes, { ...none, recovered: [], startedFailing: ["healthy"], overdue: [] });
  });

  test("a success ends the streak, even beside failures to the same consumer in the batch", () => {
    const changes = changesFor([
      [due("flaky", NOW - DAY), attempted(false)],
      [due("flaky", NOW - DAY), attempted(true)],
      [due("flaky", NOW - DAY), attempted(false)],
    ]);
    assert.deepEqual(changes, { ...none, recovered: ["flaky"], startedFailing: [], overdue: [] });
  });

  test("a success of a consumer that was not failing changes nothing", () => {
    const changes = changesFor([[due("healthy", null), attempted(true)]]);
    assert.deepEqual(changes, { ...none, recovered: [], startedFailing: [], overdue: [] });
    assert.equal(hasHealthChanges(changes), false);
  });

  test("a consumer failing for exactly 5 days is overdue, one failing a millisecond less is not", () => {
    const changes = changesFor([
      [due("five days", NOW - FIVE_DAYS), attempted(false)],
      [due("almost five days", NOW - FIVE_DAYS + 1), attempted(false)],
      [due("a week", NOW - 7 * DAY), attempted(false)],
    ]);
    assert.deepEqual(changes, { ...none, recovered: [], startedFailing: [], overdue: ["five days", "a week"] });
    assert.equal(hasHealthChanges(changes), true);
  });

  test("the auto-disable period is the configured one", () => {
    const outcomes: Array<[DueDelivery, DeliveryUpdate]> = [[due("two days", NOW - 2 * DAY), attempted(false)]];
    assert.deepEqual(changesFor(outcomes, NOW, 2 * DAY).overdue, ["two days"]);
    assert.deepEqual(changesFor(outcomes, NOW, 3 * DAY).overdue, []);
  });

  test("any change is one to write, whichever kinds the batch holds", () => {
    const [a, b] = [asId<ConsumerId>("a"), asId<ConsumerId>("b")];
    assert.equal(hasHealthChanges({ ...none, recovered: [a], startedFailing: [], overdue: [] }), true);
    assert.equal(hasHealthChanges({ ...none, recovered: [], startedFailing: [a], overdue: [] }), true);
    assert.equal(hasHealthChanges({ ...none, recovered: [], startedFailing: [], overdue: [a] }), true);
    assert.equal(hasHealthChanges({ ...none, recovered: [a], startedFailing: [b], overdue: [] }), true);
  });

  test("the new kinds of change are changes to write too", () => {
    const a = asId<ConsumerId>("a");
    assert.equal(hasHealthChanges({ ...none, gone: [a] }), true);
    assert.equal(hasHealthChanges({ ...none, reachable: [a] }), true);
    assert.equal(hasHealthChanges({ ...none, unreachable: [{ consumerId: a, count: 1, pending: [], ordered: false }] }), true);
  });

  test("410 Gone marks the consumer gone, beside its failure streak", () => {
    const changes = changesFor([[due("gone", null), answered(410)]]);
    assert.deepEqual(changes, { ...none, startedFailing: ["gone"], gone: ["gone"], reachable: [] });
  });

  test("with the breaker off, unreachable attempts are not counted", () => {
    assert.deepEqual(changesFor([[due("down", NOW - HOUR), answered(null)]]).unreachable, []);
  });

  test("with the breaker on, no answer and 5xx answers count as unreachable; the deliveries still pending are listed", () => {
    const changes = changesFor(
      [
        [due("down", NOW - HOUR), answered(null)],
        [due("down", NOW - HOUR), answered(502)],
        [due("down", NOW - HOUR), answered(500, true)],
      ],
      NOW,
      FIVE_DAYS,
      BREAKER,
    );
    assert.deepEqual(changes.unreachable, [{ consumerId: "down", count: 3, pending: ["delivery to down", "delivery to down"], ordered: false }]);
  });

  test("a 4xx answer reaches the consumer: its run of unreachable attempts ends and its circuit closes", () => {
    const changes = changesFor(
      [
        [due("throttling", NOW - HOUR, { consecutiveFailures: 2 }), answered(429)],
        [due("throttling", NOW - HOUR, { consecutiveFailures: 2 }), answered(503)],
      ],
      NOW,
      FIVE_DAYS,
      BREAKER,
    );
    assert.deepEqual(changes.reachable, ["throttling"]);
    assert.deepEqual(changes.unreachable, [], "a batch that reached the consumer does not count its unreachable attempts");
    assert.deepEqual(changes.recovered, [], "but a 4xx is no success: the failure streak goes on");
  });

  test("a consumer reached with nothing to reset is no change", () => {
    assert.deepEqual(changesFor([[due("fine", null), answered(204)]], NOW, FIVE_DAYS, BREAKER), none);
    assert.deepEqual(changesFor([[due("probe", NOW - HOUR, { circuitOpenUntil: NOW - 1 }), answered(204)]], NOW, FIVE_DAYS, BREAKER).reachable, ["probe"]);
  });

  test("a lost claim's unknown outcome does not count towards the circuit", () => {
    const changes = changesFor([[due("crashed", NOW - HOUR, { lostClaims: 1 }), answered(null)]], NOW, FIVE_DAYS, BREAKER);
    assert.deepEqual(changes.unreachable, []);
  });

  test("the cutoff the database checks again is the same 5 days", () => {
    assert.equal(autoDisableCutoff(NOW, FIVE_DAYS), NOW - FIVE_DAYS);
  });

  test("attempts skipped while a consumer was disabled count neither as failure nor as success", () => {
    const changes = changesFor([
      [due("disabled and failing", NOW - 6 * DAY), skipped],
      [due("disabled", null), skipped],
    ]);
    assert.deepEqual(changes, { ...none, recovered: [], startedFailing: [], overdue: [] });
    assert.equal(hasHealthChanges(changes), false);
  });

  test("the disabled event says since when every attempt failed, and for how long that is allowed", () => {
    assert.equal(disabledReason(Date.parse("2024-08-08T09:29:41.000Z"), FIVE_DAYS), "Every delivery attempt failed since 2024-08-08T09:29:41.000Z (5 days)");
    assert.match(disabledReason(NOW, 36 * HOUR), /\(36 hours\)$/);
    assert.match(disabledReason(NOW, DAY), /\(1 day\)$/);
    assert.match(disabledReason(NOW, 90_000), /\(90 seconds\)$/);
    assert.match(disabledReason(NOW, 1500), /\(1500 ms\)$/);
  });
});
