/** A receiver's Retry-After, read as a delay and weighed against the retry schedule. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { afterFailure, retryAfterDelayMs } from "../../src/delivery/schedule.ts";

const NOW = Date.parse("2015-10-21T07:27:00.000Z");
const SCHEDULE = [5_000, 300_000, 1_800_000];

test("Retry-After in whole seconds is that many seconds", () => {
  assert.equal(retryAfterDelayMs("120", NOW), 120_000);
  assert.equal(retryAfterDelayMs(" 7 ", NOW), 7_000);
  assert.equal(retryAfterDelayMs("0", NOW), 0);
});

test("Retry-After as an HTTP date, in each of the three forms RFC 9110 allows, is the time until then, read as GMT", () => {
  for (const date of ["Wed, 21 Oct 2015 07:28:00 GMT", "Wednesday, 21-Oct-15 07:28:00 GMT", "Wed Oct 21 07:28:00 2015"]) {
    assert.equal(retryAfterDelayMs(date, NOW), 60_000, date);
  }
  assert.equal(retryAfterDelayMs("Wed, 21 Oct 2015 07:00:00 GMT", NOW), 0, "a date in the past asks for no delay");
});

test("a missing or unreadable Retry-After asks for nothing", () => {
  for (const value of [null, "", "soon", "1.5", "-3", "2015-10-21", "Wed, 21 Oct 2015 07:28:00"])
    assert.equal(retryAfterDelayMs(value, NOW), null, String(value));
});

test("the retry waits what the receiver asked when that is longer than the schedule's step", () => {
  assert.deepEqual(afterFailure(SCHEDULE, 1, NOW, 60_000), { status: "Attempting", nextAttemptAt: NOW + 60_000 });
});

test("the receiver cannot hasten a retry: a shorter Retry-After keeps the schedule's step", () => {
  assert.deepEqual(afterFailure(SCHEDULE, 2, NOW, 1_000), { status: "Attempting", nextAttemptAt: NOW + 300_000 });
});

test("what the receiver asks is capped at the schedule's longest step", () => {
  assert.deepEqual(afterFailure(SCHEDULE, 1, NOW, 86_400_000), { status: "Attempting", nextAttemptAt: NOW + 1_800_000 });
});

test("a Retry-After does not add an attempt the schedule does not have", () => {
  assert.deepEqual(afterFailure(SCHEDULE, 4, NOW, 60_000), { status: "Failure", nextAttemptAt: null });
});
