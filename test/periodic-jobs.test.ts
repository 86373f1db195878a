import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pino from "pino";
import { systemClock } from "../src/clock.ts";
import { startPeriodicJob, type PeriodicJob } from "../src/jobs/periodic.ts";
import { Store } from "../src/storage/database.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

const silent = pino({ level: "silent" });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

  const start = (store: Store, job: Partial<PeriodicJob> & Pick<PeriodicJob, "name" | "run">) =>
    startPeriodicJob(store, systemClock, silent, { intervalMs: 300, failureMessage: "failed", ...job });

  test("every process starts the job; one of them runs each interval's run", async () => {
    const interval = 300;
    const runs: Array<{ process: number; slot: number }> = [];
    const jobs = stores.map((store, process) =>
      start(store, {
        name: "every-interval",
        intervalMs: interval,
        run: async () => {
          runs.push({ process, slot: Math.floor(Date.now() / interval) });
          await pause(20);
        },
      }),
    );
    await pause(2000);
    await Promise.all(jobs.map((job) => job.stop()));
    const slots = runs.map((run) => run.slot);
    assert.equal(new Set(slots).size, slots.length, `no interval ran twice: ${JSON.stringify(runs)}`);
    assert.ok(runs.length >= 6, `about one run per interval of the two seconds: ${JSON.stringify(runs)}`);
    const count = runs.length;
    await pause(2 * interval);
    assert.equal(runs.length, count, "no run after stop");
  });

  test("stop waits for the run in progress", async () => {
    let finished = false;
    const job = start(stores[0]!, {
      name: "slow",
      run: async () => {
        await pause(300);
        finished = true;
      },
    });
    await pause(50);
    await job.stop();
    assert.ok(finished, "the run ended before stop resolved");
  });

  test("a failed run is tried again after retryAfterMs, not at the next interval", async () => {
    const attempts: number[] = [];
    const job = start(stores[1]!, {
      name: "flaky",
      intervalMs: 60_000,
      retryAfterMs: 100,
      run: async () => {
        attempts.push(Date.now());
        if (attempts.length < 3) throw new Error("not yet");
      },
    });
    await pause(600);
    await job.stop();
    assert.equal(attempts.length, 3, "two failures, then a success, and nothing until the next interval");
  });
});
