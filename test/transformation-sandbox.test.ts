/**
 * The sandbox thread and its guard, without a server: what a hostile run
 * costs the runs queued beside it.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { TransformationRunner } from "../src/domain/transformations/runner.ts";
import type { RunOutcome } from "../src/domain/transformations/sandbox.ts";
import type { ConsumerId } from "../src/ids.ts";

const runner = new TransformationRunner({ memoryLimitBytes: 16 * 1024 * 1024, timeLimitMs: 100 });
after(() => runner.stop());

const saved = (consumerId: string, code: string, version = 1) => ({ consumerId: consumerId as ConsumerId, version, code });
const body = JSON.stringify({ id: "m1", eventType: "company.created", payload: { name: "Acme" } });
const echo = saved("echo", "function handler(webhook) { return { ...webhook, payload: { name: webhook.payload.payload.name } }; }");
// Busy inside single allocations near the memory limit, where the engine's own time check does not reach.
const hoarder = saved("hoarder", "function handler(webhook) { const hoard = []; for (;;) hoard.push(new Array(1e5).fill(1)); }");
const errorOf = (outcome: RunOutcome) => ("error" in outcome ? outcome.error : "");

test("runs queued behind one that overstays go to a new thread and succeed; the overstaying one fails out of time", async () => {
  const [first, hoarded, third] = await Promise.all([
    runner.run(echo, "https://a.example/", body),
    runner.run(hoarder, "https://b.example/", body),
    runner.run(echo, "https://c.example/", body),
  ]);
  assert.deepEqual(first, { webhook: { method: "POST", url: "https://a.example/", payload: { name: "Acme" }, cancel: false }, console: [] });
  assert.deepEqual(hoarded, { error: "The transformation ran out of time (the limit is 100 ms)", console: [] });
  assert.deepEqual(third, { webhook: { method: "POST", url: "https://c.example/", payload: { name: "Acme" }, cancel: false }, console: [] });
});

test("the same code queued behind an overrun fails with it at once instead of overstaying again", async () => {
  const outcomes = await Promise.all(Array.from({ length: 10 }, () => runner.run(hoarder, "https://b.example/", body)));
  assert.ok(outcomes.every((outcome) => /ran out of time/.test(errorOf(outcome))));
  assert.equal(outcomes.filter((outcome) => /not run again yet/.test(errorOf(outcome))).length, 9, "one overran, the nine behind it were not run");
});

test("a new version of the code is compiled and run, not the one that overran", async () => {
  const outcome = await runner.run(saved("hoarder", "function handler(webhook) { return { ...webhook, cancel: true }; }", 2), "https://b.example/", body);
  assert.equal("webhook" in outcome && outcome.webhook.cancel, true);
});

test("a check reports the engine's message and line, and a missing handler", async () => {
  assert.deepEqual(await runner.check("function handler(webhook) {\n  return webhook +;\n}"), {
    message: "SyntaxError: unexpected token in expression: ';'",
    line: 2,
  });
  assert.deepEqual(await runner.check("function notTheHandler() {}"), { message: "The code defines no function handler(webhook)", line: null });
  assert.equal(await runner.check("function handler(webhook) { return webhook; }"), null);
});

test("with a wait limit (the sender's), a run that waited too long behind others fails unrun, to be tried again", async (t) => {
  const impatient = new TransformationRunner({ memoryLimitBytes: 16 * 1024 * 1024, timeLimitMs: 100 }, 50);
  t.after(() => impatient.stop());
  // Its thread started (a check has no wait limit), so that the wait measured is the loop's, not the start's.
  assert.equal(await impatient.check("function handler(webhook) { return webhook; }"), null);
  const looping = saved("looping", "function handler(webhook) { for (;;) {} }");
  const [looped, waited] = await Promise.all([impatient.run(looping, "https://a.example/", body), impatient.run(echo, "https://b.example/", body)]);
  assert.match(errorOf(looped), /ran out of time/);
  assert.match(errorOf(waited), /^Not run: the transformations queued before it took too long/);
  assert.equal("webhook" in (await impatient.run(echo, "https://b.example/", body)), true, "one that does not wait runs");
});
