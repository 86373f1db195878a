/**
 * The retry schedule: when a delivery is tried again after a failed attempt,
 * and when it has failed for good.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { afterFailure } from "../../src/delivery/schedule.ts";

const NOW = Date.parse("2024-03-10T12:00:00.000Z");
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const SCHEDULE = [5 * SECOND, 5 * MINUTE, 30 * MINUTE];

test("the n-th failed attempt waits the n-th entry of the schedule", () => {
  assert.deepEqual(afterFailure(SCHEDULE, 1, NOW), { status: "Attempting", nextAttemptAt: NOW + 5 * SECOND });
  assert.deepEqual(afterFailure(SCHEDULE, 2, NOW), { status: "Attempting", nextAttemptAt: NOW + 5 * MINUTE });
  assert.deepEqual(afterFailure(SCHEDULE, 3, NOW), { status: "Attempting", nextAttemptAt: NOW + 30 * MINUTE });
});

test("a failure after the schedule's last entry is final", () => {
  assert.deepEqual(afterFailure(SCHEDULE, 4, NOW), { status: "Failure", nextAttemptAt: null });
  assert.deepEqual(afterFailure(SCHEDULE, 10, NOW), { status: "Failure", nextAttemptAt: null });
});

test("an empty schedule tries once; a zero entry retries at once", () => {
  assert.deepEqual(afterFailure([], 1, NOW), { status: "Failure", nextAttemptAt: null });
  assert.deepEqual(afterFailure([0, MINUTE], 1, NOW), { status: "Attempting", nextAttemptAt: NOW });
});
