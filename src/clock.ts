/** Time comes from here so that tests and the worker agree on "now". */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const isoDate = (epochMs: number): string => new Date(epochMs).toISOString();

/**
 * When the interval holding `now` ends, intervals of `intervalMs` being
 * aligned to the epoch: for a day, the next UTC midnight.
 */
export const intervalEndAfter = (now: number, intervalMs: number): number => now - (now % intervalMs) + intervalMs;
