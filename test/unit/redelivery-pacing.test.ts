import assert from "node:assert/strict";
import { test } from "node:test";
import { Pacer } from "../../src/domain/redelivery-pacer.ts";

const START = Date.parse("2024-01-01T00:00:00.000Z");

test("recover and replay schedule messages 1/rate seconds apart, the first at once", () => {
  const pacer = new Pacer(START, 10);
  assert.deepEqual(
    Array.from({ length: 4 }, () => pacer.next()),
    [START, START + 100, START + 200, START + 300],
  );
  assert.equal(pacer.lastDueAt(), "2024-01-01T00:00:00.300Z");
});

test("no second gets more messages than the rate, when the spacing is not a whole number of milliseconds either", () => {
  const rate = 3;
  const pacer = new Pacer(START, rate);
  const due = Array.from({ length: 30 }, () => pacer.next());
  for (const from of due) assert.ok(due.filter((at) => at >= from && at < from + 1000).length <= rate, `at most ${rate} in the second from ${from}`);
  assert.deepEqual(due.slice(0, 4), [START, START + 333, START + 666, START + 1000]);
});

test("a pacer that scheduled nothing has no last due time", () => {
  assert.equal(new Pacer(START, 10).lastDueAt(), null);
});
