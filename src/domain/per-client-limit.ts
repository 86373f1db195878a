import { MAX_LISTEN_STREAMS_PER_CLIENT, MAX_TRANSFORMATION_TESTS_PER_CLIENT } from "../constants/limits.ts";
import { HooklineError } from "../errors.ts";
import type { ClientId } from "../ids.ts";

/**
 * The most of one costly kind of work (an open listen stream, a transformation
 * test run) each client may have under way in this process at once, so one
 * client cannot take what every other client shares. Counted in memory: the
 * work lives in this process, and ends with it.
 */
export class PerClientLimit {
  readonly #underWay = new Map<ClientId, number>();

  /** @param refusal the 429's message, given the most allowed: what the client should do about it */
  constructor(
    readonly max: number,
    private readonly refusal: (max: number) => string,
  ) {}

  /** Takes one of the client's places, or answers 429 when it holds them all. The returned function gives it back; calling it again does nothing. */
  take(clientId: ClientId): () => void {
    const count = this.#underWay.get(clientId) ?? 0;
    if (count >= this.max) throw new HooklineError(429, this.refusal(this.max), [], "Yes");
    this.#underWay.set(clientId, count + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = this.#underWay.get(clientId)! - 1;
      if (left === 0) this.#underWay.delete(clientId);
      else this.#underWay.set(clientId, left);
    };
  }

  /** Runs the work in one of the client's places, given back when it ends however it ends. */
  async within<T>(clientId: ClientId, work: () => Promise<T>): Promise<T> {
    const giveBack = this.take(clientId);
    try {
      return await work();
    } finally {
      giveBack();
    }
  }
}

/** The per-client limits of one process, kept on its context. */
export interface PerClientLimits {
  listenStreams: PerClientLimit;
  transformationTests: PerClientLimit;
}

export function perClientLimits(): PerClientLimits {
  return {
    // Each stream holds a connection, a wake-up subscription and a loop.
    listenStreams: new PerClientLimit(
      MAX_LISTEN_STREAMS_PER_CLIENT,
      (max) => `This client has ${max} listen streams open already, the most it may have at once: stop a \`hookline listen\` first`,
    ),
    // Counted running or waiting for the engine: one client's queue never holds another's tests for long.
    transformationTests: new PerClientLimit(
      MAX_TRANSFORMATION_TESTS_PER_CLIENT,
      (max) => `This client has ${max} transformation tests running already, the most it may have at once: try again once they end`,
    ),
  };
}
