import type { Logger } from "pino";
import { intervalEndAfter, type Clock } from "../clock.ts";
import { newId } from "../ids.ts";
import { isDatabaseUnavailable, type Store } from "../storage/database.ts";
import { claimJobRun, endJobRun, jobDueAt } from "../storage/job-runs.ts";

/**
 * How long a claimed run keeps other processes from claiming the job. A
 * process that dies in a run leaves the job to the others once it ends; a run
 * that outlasts it may meet another process's run of the same job, which the
 * jobs allow (retention claims its rows, the quota reset's DELETE hands each
 * ended window to one transaction).
 */
const LEASE_MS = 5 * 60_000;
/** Timers may fire a millisecond before the time they were set for: waking a little later finds the run due. */
const TIMER_MARGIN_MS = 5;
/** Timers cannot wait beyond 24.8 days, and looking early only finds the run not yet due. */
const MAX_WAIT_MS = 3_600_000;

/**
 * A job every process starts and one of them runs each time it is due:
 * retention, the quota reset, and later the refresh of integrations' access
 * tokens. Runs are due at the start of each interval (intervals aligned to
 * the epoch, so a day's start at UTC midnight), and at start when a run fell
 * due while no process ran.
 */
export interface PeriodicJob {
  /** Names the job's claims in the database: never rename one that has shipped. */
  name: string;
  intervalMs: number;
  /** How soon to try again after a failed run; at the next interval when absent. */
  retryAfterMs?: number;
  /** Logged with the error when a run fails. */
  failureMessage: string;
  run(): Promise<void>;
}

export interface RunningJob {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/** Runs `job` whenever this process claims its due run, one run at a time. */
export function startPeriodicJob(store: Store, clock: Clock, log: Logger, job: PeriodicJob): RunningJob {
  const owner = newId();
  const retryAt = (now: number) => (job.retryAfterMs === undefined ? intervalEndAfter(now, job.intervalMs) : now + job.retryAfterMs);
  /** Set while the database is unavailable: one warning for the whole outage rather than one per try. */
  let waiting = false;
  const failed = (error: unknown) => {
    const unavailable = isDatabaseUnavailable(error);
    if (!unavailable) log.error({ err: error }, job.failureMessage);
    else if (!waiting) log.warn({ cause: (error as Error).message }, `${job.failureMessage} (the database is unavailable)`);
    waiting = unavailable;
  };

  /** Runs the job if its run is due and this process claims it; returns when to look again. */
  const runIfDue = async (): Promise<number> => {
    const now = clock.now();
    const lease = { name: job.name, owner, leaseUntil: now + LEASE_MS };
    if (!(await claimJobRun(store, { ...lease, now }))) return (await jobDueAt(store.db, job.name)) ?? intervalEndAfter(now, job.intervalMs);
    let dueAt: number;
    try {
      await job.run();
      dueAt = intervalEndAfter(clock.now(), job.intervalMs);
    } catch (error) {
      failed(error);
      dueAt = retryAt(clock.now());
    }
    await endJobRun(store, lease, dueAt);
    return dueAt;
  };

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = async (): Promise<void> => {
    let wakeAt: number;
    try {
      wakeAt = await runIfDue();
      waiting = false;
    } catch (error) {
      failed(error);
      wakeAt = retryAt(clock.now());
    }
    if (stopped) return;
    timer = setTimeout(() => (running = tick()), Math.min(Math.max(wakeAt - clock.now(), 0) + TIMER_MARGIN_MS, MAX_WAIT_MS));
    timer.unref();
  };
  let running = tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
