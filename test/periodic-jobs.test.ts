import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pino from "pino";
import { intervalEndAfter, systemClock, type Clock } from "../src/clock.ts";
import { startPeriodicJob, type PeriodicJob } from "../src/jobs/periodic.ts";
import { Store } from "../src/storage/database.ts";
import { jobDueAt } from "../src/storage/job-runs.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { until } from "./support/wait.ts";

const silent = pino({ level: "silent" });
/** A run that takes a little while, as real ones do: other processes' claims meet it in progress. */
const working = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * Lets wall time reach `at`. Only for showing that nothing happens by a moment the job recorded:
 * a run that does not happen leaves no state to wait on.
 */
const timeReaches = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

describe("periodic jobs", () => {
  let database: TestDatabase;
  /** Three processes' connections to one database. */
  let stores: Store[];
  before(async () => {
    database = await createTestDatabase();
    stores = [];
    for (let index = 0; index < 3; index++) {
      const store = await Store.open(database.url);
      await store.migrate();
      stores.push(store);
    }
  });
  after(async () => {
    for (const store of stores) await store.close();
    await database.drop();
  });

  const start = (store: Store, job: Partial<PeriodicJob> & Pick<PeriodicJob, "name" | "run">, clock: Clock = systemClock) =>
    startPeriodicJob(store, clock, silent, { intervalMs: 300, failureMessage: "failed", ...job });

  test("every process starts the job; one of them runs each interval's run", async () => {
    const interval = 300;
    const runs: Array<{ process: number; slot: number }> = [];
    const jobs = stores.map((store, process) =>
      start(store, {
        name: "every-interval",
        intervalMs: interval,
        run: async () => {
          runs.push({ process, slot: Math.floor(Date.now() / interval) });
          await working(20);
        },
      }),
    );
    await until("six runs of the job", async () => runs.length >= 6 || `${runs.length} runs: ${JSON.stringify(runs)}`);
    await Promise.all(jobs.map((job) => job.stop()));
    const slots = runs.map((run) => run.slot);
    assert.equal(new Set(slots).size, slots.length, `no interval ran twice: ${JSON.stringify(runs)}`);

    // Stopped processes leave the next run due; had a timer of theirs survived stop, it would run the job then.
    const count = runs.length;
    const dueAt = await jobDueAt(stores[0]!.db, "every-interval");
    assert.ok(dueAt !== undefined && dueAt <= Date.now() + interval, `the next run is due within an interval: ${dueAt}`);
    await timeReaches(dueAt + interval);
    assert.equal(runs.length, count, "no run after stop");
  });

  test("stop waits for the run in progress", async () => {
    const order: string[] = [];
    let started = false;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const job = start(stores[0]!, {
      name: "slow",
      run: async () => {
        started = true;
        await held;
        order.push("run finished");
      },
    });
    await until("the run to start", async () => started);
    const stopped = job.stop().then(() => order.push("stop resolved"));
    // A stop that did not wait would resolve within this turn of the event loop.
    await new Promise(setImmediate);
    assert.deepEqual(order, [], "stop has not resolved while the run is held");
    release();
    await stopped;
    assert.deepEqual(order, ["run finished", "stop resolved"], "the run ended before stop resolved");
  });

  test("a failed run is tried again after retryAfterMs, not at the next interval", async () => {
    const interval = 60_000;
    // The job's clock starts an interval now, so the whole test runs within that interval.
    const intervalStart = Date.now();
    const offset = intervalEndAfter(intervalStart, interval) - intervalStart;
    const clock: Clock = { now: () => Date.now() + offset };
    const attempts: number[] = [];
    const job = start(
      stores[1]!,
      {
        name: "flaky",
        intervalMs: interval,
        retryAfterMs: 100,
        run: async () => {
          attempts.push(clock.now());
          if (attempts.length < 3) throw new Error("not yet");
        },
      },
      clock,
    );
    const nextInterval = intervalEndAfter(clock.now(), interval);
    await until("two failures, then a success recorded with the job next due at the next interval", async () => {
      const dueAt = await jobDueAt(stores[1]!.db, "flaky");
      return (
        (attempts.length >= 3 && dueAt === nextInterval) || `${attempts.length} attempts, next due at ${dueAt} (the next interval starts at ${nextInterval})`
      );
    });
    await job.stop();
    assert.equal(attempts.length, 3, "two failures, then a success, and nothing until the next interval");
    for (const [index, at] of attempts.slice(1).entries()) {
      assert.ok(at - attempts[index]! >= 100, `attempt ${index + 2} came ${at - attempts[index]!} ms after the failure before it, not retryAfterMs`);
    }
  });
});
