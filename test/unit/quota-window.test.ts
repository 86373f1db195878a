import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { quotaWindowAt } from "../../src/domain/quota.ts";

const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);
const window = (now: string, windowMs: number) => {
  const { start, end } = quotaWindowAt(at(now), windowMs);
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
};

describe("quota window", () => {
  test("a day's window is the UTC day", () => {
    assert.deepEqual(window("2024-05-01T13:45:10.123Z", DAY), { start: "2024-05-01T00:00:00.000Z", end: "2024-05-02T00:00:00.000Z" });
    assert.deepEqual(
      window("2024-05-01T23:30:00-05:00", DAY),
      { start: "2024-05-02T00:00:00.000Z", end: "2024-05-03T00:00:00.000Z" },
      "UTC, not the caller's offset",
    );
  });

  test("a request at midnight counts in the day it starts; one a millisecond before, in the day that ends", () => {
    assert.deepEqual(window("2024-05-02T00:00:00.000Z", DAY), { start: "2024-05-02T00:00:00.000Z", end: "2024-05-03T00:00:00.000Z" });
    assert.deepEqual(window("2024-05-01T23:59:59.999Z", DAY), { start: "2024-05-01T00:00:00.000Z", end: "2024-05-02T00:00:00.000Z" });
  });

  test("across a leap day and the end of a year", () => {
    assert.deepEqual(window("2024-02-29T12:00:00Z", DAY), { start: "2024-02-29T00:00:00.000Z", end: "2024-03-01T00:00:00.000Z" });
    assert.deepEqual(window("2024-12-31T18:00:00Z", DAY), { start: "2024-12-31T00:00:00.000Z", end: "2025-01-01T00:00:00.000Z" });
  });

  test("shorter windows are aligned to the epoch too, each one window long", () => {
    assert.deepEqual(window("2024-05-01T13:45:03.500Z", 2000), { start: "2024-05-01T13:45:02.000Z", end: "2024-05-01T13:45:04.000Z" });
    assert.deepEqual(window("2024-05-01T13:45:10Z", 3_600_000), { start: "2024-05-01T13:00:00.000Z", end: "2024-05-01T14:00:00.000Z" });
    for (const now of [0, 1, 1_999, 2_000, 1_714_571_103_500]) {
      const { start, end } = quotaWindowAt(now, 2000);
      assert.ok(start <= now && now < end && end - start === 2000 && start % 2000 === 0, `${now} in [${start}, ${end})`);
    }
  });
});
