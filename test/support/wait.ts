/** Upper bound on any single wait: generous for a loaded machine, but a hang still fails. */
export const WAIT_MS = 45_000;
const POLL_MS = 25;

/**
 * Polls `read` until `done` holds and returns the value that satisfied it. It checks state the
 * server recorded; it never sleeps through time. By default `done` waits for `true`, so a probe
 * can return a description of the state so far instead, which the timeout error then shows.
 */
export async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean = (value) => value === true, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (last saw ${describe(value)})`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** `promise`, or a failure after WAIT_MS; the timer is cleared either way so it keeps nothing alive. */
export async function within<T>(promise: Promise<T>, failure: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(failure())), WAIT_MS)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value, (_key, item) => (typeof item === "bigint" ? String(item) : item));
  return text === undefined ? String(value) : text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
