import assert from "node:assert/strict";
import { test } from "node:test";
import { asId, type ConsumerId, type DeliveryId } from "../../src/ids.ts";
import { allocateRateSlots } from "../../src/storage/deliveries/rate-slots.ts";

const consumer = asId<ConsumerId>("consumer");
const delivery = (id: string, rateSlotAt: number | null = null) => ({ id: asId<DeliveryId>(id), consumerId: consumer, rateSlotAt });
const NOW = 10_000;

test("a rate-limited consumer's deliveries take slots 1/limit seconds apart: the first sends now, the others wait for theirs", () => {
  const allocation = allocateRateSlots([{ id: consumer, rate_limit: 2, rate_next_at: null }], [delivery("a"), delivery("b"), delivery("c")], NOW);
  assert.deepEqual(
    [...allocation.waiting],
    [
      ["b", NOW + 500],
      ["c", NOW + 1000],
    ],
  );
  assert.deepEqual(allocation.nextFree, [{ consumerId: consumer, at: NOW + 1500 }]);
});

test("slots are drawn from the consumer's next free one, which other workers moved", () => {
  const allocation = allocateRateSlots([{ id: consumer, rate_limit: 2, rate_next_at: NOW + 200 }], [delivery("a")], NOW);
  assert.deepEqual([...allocation.waiting], [["a", NOW + 200]]);
  assert.deepEqual(allocation.nextFree, [{ consumerId: consumer, at: NOW + 700 }]);
});

test("a delivery holding a slot waits for it, sends in it when due, and takes a new one when claimed too late", () => {
  const consumers = [{ id: consumer, rate_limit: 2, rate_next_at: NOW }];
  const ahead = allocateRateSlots(consumers, [delivery("a", NOW + 300)], NOW);
  assert.deepEqual([...ahead.waiting], [["a", NOW + 300]]);
  const due = allocateRateSlots(consumers, [delivery("a", NOW - 100)], NOW);
  assert.deepEqual([due.slotsUsed, due.waiting.size], [["a"], 0]);
  const late = allocateRateSlots(consumers, [delivery("a", NOW - 5000)], NOW);
  assert.deepEqual([late.slotsUsed, late.waiting.size, late.nextFree], [["a"], 0, [{ consumerId: consumer, at: NOW + 500 }]]);
});

test("when the limit was lifted since the claim, nothing waits", () => {
  const allocation = allocateRateSlots([{ id: consumer, rate_limit: null, rate_next_at: NOW + 5000 }], [delivery("a"), delivery("b")], NOW);
  assert.deepEqual([allocation.waiting.size, allocation.slotsUsed, allocation.nextFree], [0, [], []]);
});
