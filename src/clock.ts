/** Time comes from here so that tests and the worker agree on "now". */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const isoDate = (epochMs: number): string => new Date(epochMs).toISOString();
