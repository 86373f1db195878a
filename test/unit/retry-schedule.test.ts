import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../../src/config.ts";
import { afterFailure } from "../../src/delivery/schedule.ts";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const defaultSchedule = () => loadConfig({}).delivery.retryScheduleMs;

test("the default retry schedule waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h", () => {
  assert.deepEqual(defaultSchedule(), [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]);
});

test("the default retry schedule spans about 28 hours from the first attempt to the last", () => {
  const span = defaultSchedule().reduce((sum, delay) => sum + delay, 0);
  assert.equal(span, 27 * HOUR + 35 * MINUTE + 5 * SECOND);
  assert.ok(Math.abs(span - 28 * HOUR) < HOUR);
});

test("the n-th failed attempt waits the schedule's n-th delay, and the one after the last entry fails the delivery", () => {
  const schedule = defaultSchedule();
  const now = 1_700_000_000_000;
  schedule.forEach((delay, index) => assert.deepEqual(afterFailure(schedule, index + 1, now), { status: "Attempting", nextAttemptAt: now + delay }));
  assert.deepEqual(afterFailure(schedule, schedule.length + 1, now), { status: "Failure", nextAttemptAt: null });
});

test("without retries the first failed attempt fails the delivery", () => {
  assert.deepEqual(afterFailure([], 1, 0), { status: "Failure", nextAttemptAt: null });
});

test("a zero entry retries at once", () => {
  assert.deepEqual(afterFailure([0, MINUTE], 1, 0), { status: "Attempting", nextAttemptAt: 0 });
});
