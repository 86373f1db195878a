import type { Db, Store } from "./database.ts";

/**
 * The claims of periodic jobs' runs. A job has one row, made by its first
 * claim; a process runs the job only after claiming it here, which moves the
 * row's due time to the end of its lease, so that of the processes sharing
 * the database, one runs each run.
 */

export interface JobRunClaim {
  name: string;
  /** The process claiming the run. */
  owner: string;
  now: number;
  /** Until when no other process may claim the job, unless the run ends first. */
  leaseUntil: number;
}

/**
 * Claims the job's run due by `now`: one statement, so that of the processes
 * trying at the same time exactly one gets it. Returns whether this one did.
 */
export async function claimJobRun(store: Store, { name, owner, now, leaseUntil }: JobRunClaim): Promise<boolean> {
  const claimed = await store.writeStatement((db) =>
    db
      .insertInto("job_runs")
      .values({ name, due_at: leaseUntil, owner, claimed_at: now })
      .onConflict((conflict) => conflict.column("name").doUpdateSet({ due_at: leaseUntil, owner, claimed_at: now }).where("job_runs.due_at", "<=", now))
      .returning("name")
      .executeTakeFirst(),
  );
  return claimed !== undefined;
}

/** When the job may next be claimed: the end of the lease of a run in progress, or when the next run is due. */
export async function jobDueAt(db: Db, name: string): Promise<number | undefined> {
  const row = await db.selectFrom("job_runs").select("due_at").where("name", "=", name).executeTakeFirst();
  return row?.due_at;
}

/**
 * Ends a run this process claimed: the job is next due at `dueAt`. Changes
 * nothing when the lease ran out and another process claimed the job since.
 */
export async function endJobRun(store: Store, { name, owner, leaseUntil }: Omit<JobRunClaim, "now">, dueAt: number): Promise<void> {
  await store.writeStatement((db) =>
    db.updateTable("job_runs").set({ due_at: dueAt }).where("name", "=", name).where("owner", "=", owner).where("due_at", "=", leaseUntil).execute(),
  );
}
