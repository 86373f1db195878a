import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { AttemptRequest, AttemptResult, BatchSender } from "./attempt.ts";

/** Messages between the main thread and the sender thread. */
export type ThreadMessage =
  | { type: "started" }
  | { type: "stopped" }
  | { type: "send"; batch: number; requests: readonly AttemptRequest[] }
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

/**
 * Signs and sends attempts on a thread of its own, so one process sends
 * webhooks on one core while its main thread serves the API and claims and
 * records deliveries on another.
 */
export async function startSenderThread(config: Config, log: Logger): Promise<SenderThread> {
  // The thread holds only the attempts in flight; a modest heap keeps the process small under load.
  const thread = new Worker(new URL(THREAD_ENTRY, import.meta.url), { workerData: config, resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 } });
  const inFlight = new Map<number, { resolve: (results: AttemptResult[]) => void; reject: (error: Error) => void }>();
  let batches = 0;
  let stopping = false;
  thread.on("message", (message: ThreadMessage) => {
    if (message.type !== "sent" && message.type !== "failed") return;
    const batch = inFlight.get(message.batch);
    inFlight.delete(message.batch);
    if (message.type === "sent") batch?.resolve(message.results);
    else batch?.reject(new Error(`sending a batch failed: ${message.error}`));
  });
  thread.on("error", (error) => {
    // A sender thread that died would leave the API accepting events nobody sends: fail loudly instead.
    log.fatal({ err: error }, "sender thread failed");
    process.exit(1);
  });
  thread.on("exit", (code) => {
    if (!stopping) {
      log.fatal({ code }, "sender thread exited");
      process.exit(1);
    }
  });
  await waitFor(thread, "started");
  return {
    send(requests) {
      const batch = batches++;
      return new Promise((resolve, reject) => {
        thread.postMessage({ type: "send", batch, requests } satisfies ThreadMessage);
        inFlight.set(batch, { resolve, reject });
      });
    },
    async stop() {
      stopping = true;
      const stopped = waitFor(thread, "stopped");
      thread.postMessage({ type: "stop" } satisfies ThreadMessage);
      await stopped;
      await thread.terminate();
    },
  };
}

async function waitFor(thread: Worker, type: ThreadMessage["type"]): Promise<void> {
  for (;;) {
    const [message] = (await once(thread, "message")) as [ThreadMessage];
    if (message.type === type) return;
  }
}
