import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { BatchSender, EarlyResults } from "./pipeline.ts";
import type { AttemptResult, SendBatch } from "./pipeline/request.ts";

/** Messages between the main thread and the sender thread. */
export type ThreadMessage =
  | { type: "started" }
  | { type: "stopped" }
  | ({ type: "send"; batch: number } & SendBatch)
  | { type: "early"; batch: number; results: EarlyResults }
  | { type: "sent"; batch: number; results: AttemptResult[] }
  | { type: "failed"; batch: number; error: string }
  | { type: "stop" };

export interface SenderThread extends BatchSender {
  /** Ends the thread; the batches sent to it must have come back. */
  stop(): Promise<void>;
}

/**
 * The built server starts the compiled thread module. Run from source (the
 * tests), a worker thread does not inherit the main thread's TypeScript
 * loader, so it starts through a script that registers it first.
 */
const THREAD_ENTRY = import.meta.url.endsWith(".ts") ? "./thread-entry.js" : "./thread-main.js";

interface Pending {
  resolve: (results: AttemptResult[]) => void;
  reject: (error: Error) => void;
  early?: (results: EarlyResults) => void;
}

/** One running thread and the batches it holds. */
interface Running {
  thread: Worker;
  pending: Map<number, Pending>;
}

/**
 * Signs and sends attempts on a thread of its own, so one process sends
 * webhooks on one core while its main thread serves the API and claims and
 * records deliveries on another. A thread that fails (out of its heap, or a
 * bug) fails the batches it held, which the worker records as failed
 * attempts, and the next batch starts a new thread: no delivery can take the
 * process down, nor be retried for ever without counting.
 */
export async function startSenderThread(config: Config, log: Logger): Promise<SenderThread> {
  let batches = 0;
  let stopping = false;

  const launch = async (): Promise<Running> => {
    // The thread holds only the attempts in flight; a bounded heap keeps the process small under load.
    const thread = new Worker(new URL(THREAD_ENTRY, import.meta.url), {
      workerData: config,
      resourceLimits: { maxOldGenerationSizeMb: config.delivery.senderHeapMb, maxYoungGenerationSizeMb: 16 },
    });
    const running: Running = { thread, pending: new Map() };
    let failure: Error | undefined;
    let started = false;
    thread.on("message", (message: ThreadMessage) => {
      if (message.type === "early") return running.pending.get(message.batch)?.early?.(message.results);
      if (message.type !== "sent" && message.type !== "failed") return;
      const batch = running.pending.get(message.batch);
      running.pending.delete(message.batch);
      if (message.type === "sent") batch?.resolve(message.results);
      else batch?.reject(new Error(message.error));
    });
    thread.on("error", (error) => (failure = error));
    thread.on("exit", (code) => {
      if (stopping) return;
      const reason = failure === undefined ? `it exited with code ${code}` : describe(failure);
      log.error(
        { code, err: failure, batches: running.pending.size },
        "sender thread failed; its batches are recorded as failed attempts and a new thread takes over",
      );
      for (const batch of running.pending.values()) batch.reject(new Error(`the sender thread failed: ${reason}`));
      running.pending.clear();
      // One that never started is started again by the next batch, not in a loop here.
      if (started) current = relaunch();
    });
    await waitFor(thread, "started");
    started = true;
    return running;
  };
  /** A new thread; should it fail to start, the batch that waits for it fails with the reason. */
  const relaunch = (): Promise<Running> => {
    const next = launch();
    next.catch((error: unknown) => log.error({ err: error }, "sender thread failed to start"));
    return next;
  };

  let current = launch();
  await current;
  return {
    async send({ bodies, requests }, early) {
      const running = await current.catch(() => (current = relaunch()));
      return new Promise((resolve, reject) => {
        const batch = batches++;
        running.pending.set(batch, { resolve, reject, early });
        // The bodies move to the thread: this thread no longer holds them.
        running.thread.postMessage({ type: "send", batch, bodies, requests } satisfies ThreadMessage, [bodies]);
      });
    },
    async stop() {
      stopping = true;
      const running = await current.catch(() => null);
      if (running === null) return;
      const { thread } = running;
      const stopped = waitFor(thread, "stopped");
      thread.postMessage({ type: "stop" } satisfies ThreadMessage);
      await stopped;
      await thread.terminate();
    },
  };
}

function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}: ${error.message}` : error.message;
}

async function waitFor(thread: Worker, type: ThreadMessage["type"]): Promise<void> {
  for (;;) {
    const [message] = (await once(thread, "message")) as [ThreadMessage];
    if (message.type === type) return;
  }
}
