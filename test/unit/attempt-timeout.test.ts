import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../../src/config.ts";

test("an attempt times out after 15 seconds by default", () => {
  assert.equal(loadConfig({}).delivery.attemptTimeoutMs, 15_000);
});

test("the default lease leaves a sent attempt its whole timeout and the worker as long again to record it", () => {
  const { attemptTimeoutMs, leaseMs } = loadConfig({}).delivery;
  assert.ok(leaseMs >= 2 * attemptTimeoutMs, `lease ${leaseMs} ms, timeout ${attemptTimeoutMs} ms`);
});
