import { Worker } from "node:worker_threads";
import type { TransformationConfig } from "../../config.ts";
import type { CodeProblem, SandboxData, SandboxReply, SandboxRequest, SavedTransformation } from "./protocol.ts";
import type { RunOutcome } from "./sandbox.ts";

/**
 * The built server starts the compiled thread module. Run from source (the
 * tests), a worker thread does not inherit the main thread's TypeScript
 * loader, so it starts through a script that registers it first.
 */
const SANDBOX_ENTRY = import.meta.url.endsWith(".ts") ? "./sandbox-entry.js" : "./sandbox-thread.js";

/** Heap of the sandbox thread's own JavaScript, in MB: the engines' memory is WebAssembly memory, outside it. */
const SANDBOX_HEAP_MB = 64;

type Answer = { type: "ran"; outcome: RunOutcome } | { type: "checked"; problem: CodeProblem | null };

interface Pending {
  request: SandboxRequest;
  settle: (answer: Answer) => void;
}

/**
 * Runs transformations on a thread of its own, one at a time, and stands
 * guard over each: the engine stops code at its time limit between
 * operations, but not inside one (a large allocation close to the memory
 * limit can keep it busy for seconds). A run that has not answered by twice
 * its limit and a margin ends the thread, fails with "out of time", and a
 * new thread takes the runs that waited behind it. So no transformation
 * holds up the thread that asked for it, be it the sender or the API.
 *
 * The thread starts at the first run: a process whose consumers have no
 * transformation never starts it.
 */
export class TransformationRunner {
  private thread: Worker | undefined;
  /** Shared with the thread: the id of the request it runs, and since when (0 while idle). */
  private running: Float64Array<ArrayBufferLike> = new Float64Array(2);
  private ready = false;
  /** Sent to the thread, and answered in order. */
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private guard: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly limits: TransformationConfig,
    /**
     * How long a run may wait for its turn before it fails unrun; null: as long as it takes. The sender
     * sets it, so that the runs of a batch end while its lease holds, with time left to send them.
     */
    private readonly maxWaitMs: number | null = null,
  ) {}

  /** How long a run may go unanswered before its thread is ended. */
  private get deadlineMs(): number {
    return 2 * this.limits.timeLimitMs + 100;
  }

  /** Runs saved code (compiled once per consumer and version) or code given for this run only, on a request to `url` carrying `body`. */
  async run(transformation: SavedTransformation | { code: string }, url: string, body: string): Promise<RunOutcome> {
    const notAfter = this.maxWaitMs === null ? null : Date.now() + this.maxWaitMs;
    const answer = await this.ask({ type: "run", id: this.nextId++, transformation, url, body, notAfter });
    return answer.type === "ran" ? answer.outcome : { error: "The sandbox answered something else", console: [] };
  }

  /** Why code cannot be saved (it does not compile, its top level fails, or it defines no handler), or null. */
  async check(code: string): Promise<CodeProblem | null> {
    const answer = await this.ask({ type: "check", id: this.nextId++, code });
    return answer.type === "checked" ? answer.problem : { message: "The sandbox answered something else", line: null };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.guard);
    const thread = this.thread;
    this.thread = undefined;
    for (const pending of this.queue.splice(0)) pending.settle(failure(pending.request, "The server is stopping"));
    if (thread) await thread.terminate();
  }

  private ask(request: SandboxRequest): Promise<Answer> {
    if (this.stopped) return Promise.resolve(failure(request, "The server is stopping"));
    return new Promise((settle) => {
      this.queue.push({ request, settle });
      if (this.thread === undefined) this.start();
      else if (this.ready) {
        this.thread.postMessage(request);
        if (this.queue.length === 1) this.watch();
      }
    });
  }

  private start(): void {
    const running = new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT);
    this.running = new Float64Array(running);
    const thread = new Worker(new URL(SANDBOX_ENTRY, import.meta.url), {
      workerData: { limits: this.limits, running } satisfies SandboxData,
      resourceLimits: { maxOldGenerationSizeMb: SANDBOX_HEAP_MB },
    });
    // An idle sandbox does not keep the process alive.
    thread.unref();
    this.thread = thread;
    this.ready = false;
    thread.on("message", (reply: SandboxReply) => {
      if (thread !== this.thread) return;
      if (reply.type === "ready") {
        this.ready = true;
        for (const { request } of this.queue) thread.postMessage(request);
      } else {
        const index = this.queue.findIndex((pending) => pending.request.id === reply.id);
        if (index >= 0) this.queue.splice(index, 1)[0]!.settle(reply);
      }
      this.watch();
    });
    thread.on("error", (error) => this.replace(thread, `The transformation engine failed: ${error.message}`));
    thread.on("exit", (code) => this.replace(thread, `The transformation engine stopped (exit code ${code})`));
  }

  /**
   * Guards the thread while it has work: the request it runs (as it says in
   * the memory it shares) is answered by the deadline, or the thread is
   * replaced. Read from the thread rather than timed here, so that this
   * thread being busy itself never counts against a run.
   */
  private watch(): void {
    clearTimeout(this.guard);
    if (!this.ready || this.queue.length === 0) return;
    const thread = this.thread!;
    const running = this.running;
    const check = () => {
      const id = running[0]!;
      const since = running[1]!;
      const left = since === 0 ? this.deadlineMs : since + this.deadlineMs - Date.now();
      if (left > 0) this.guard = setTimeout(check, left);
      else this.replace(thread, `The transformation ran out of time (the limit is ${this.limits.timeLimitMs} ms)`, id);
    };
    this.guard = setTimeout(check, this.deadlineMs);
  }

  /**
   * Fails request `failedId` (or the first waiting) with `reason`, ends the thread, and starts another for the
   * requests that waited; any the old thread answered without the answer arriving are asked again.
   */
  private replace(thread: Worker, reason: string, failedId?: number): void {
    if (thread !== this.thread || this.stopped) return;
    clearTimeout(this.guard);
    this.thread = undefined;
    void thread.terminate();
    const index = Math.max(
      0,
      this.queue.findIndex((pending) => pending.request.id === failedId),
    );
    const failed = this.queue.splice(index, 1)[0];
    if (failed) {
      failed.settle(failure(failed.request, reason));
      // The same code waiting behind it would most likely do the same: it fails with it rather than hold up the others.
      for (const same of this.queue.filter((pending) => sameSavedCode(pending.request, failed.request))) {
        this.queue.splice(this.queue.indexOf(same), 1);
        same.settle(failure(same.request, `${reason} (on an earlier delivery moments ago: not run again yet)`));
      }
    }
    if (this.queue.length > 0) this.start();
  }
}

function sameSavedCode(a: SandboxRequest, b: SandboxRequest): boolean {
  if (a.type !== "run" || b.type !== "run" || !("consumerId" in a.transformation) || !("consumerId" in b.transformation)) return false;
  return a.transformation.consumerId === b.transformation.consumerId && a.transformation.version === b.transformation.version;
}

function failure(request: SandboxRequest, reason: string): Answer {
  return request.type === "run" ? { type: "ran", outcome: { error: reason, console: [] } } : { type: "checked", problem: { message: reason, line: null } };
}
