/** Where a delivery's attempt schedule starts: no attempt made yet, the first one due at `dueAt`. */
export const freshSchedule = (dueAt: number, now: number) => ({ status: "Sending", attempt_count: 0, next_attempt_at: dueAt, updated_at: now }) as const;
