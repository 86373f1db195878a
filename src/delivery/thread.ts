import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { DeliveryMetricsDelta } from "./metrics.ts";

/** Messages between the main thread and the delivery thread. */
export type ThreadMessage =
  | { type: "started" }
  | { type: "stopped" }
  | { type: "log"; line: string }
  | { type: "metrics"; delta: DeliveryMetricsDelta }
  | { type: "stop" };

export interface DeliveryThread {
  /** Lets the attempts in flight finish and record, then ends the thread. */
  stop(): Promise<void>;
}

/**
 * The built server starts the compiled thread module. Run from source (the
 * tests), a worker thread does not inherit the main thread's TypeScript
 * loader, so it starts through a script that registers it first.
 */
const THREAD_ENTRY = import.meta.url.endsWith(".ts") ? "./thread-entry.js" : "./thread-main.js";

/**
 * Runs the delivery worker on a thread of its own, so one process serves the
 * API on one core and sends webhooks on another. The thread opens its own
 * database connection; its log lines come back here to share one output.
 */
export async function startDeliveryThread(
  config: Config,
  logDestination: NodeJS.WritableStream,
  log: Logger,
  onMetrics: (delta: DeliveryMetricsDelta) => void = () => undefined,
): Promise<DeliveryThread> {
  // The thread holds little (a few batches, their bodies within a budget: see readLease); a modest heap keeps the process small under load.
  const thread = new Worker(new URL(THREAD_ENTRY, import.meta.url), { workerData: config, resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 } });
  let stopping = false;
  thread.on("message", (message: ThreadMessage) => {
    if (message.type === "log") logDestination.write(message.line);
    else if (message.type === "metrics") onMetrics(message.delta);
  });
  thread.on("error", (error) => {
    // A delivery thread that died would leave the API accepting events nobody sends: fail loudly instead.
    log.fatal({ err: error }, "delivery thread failed");
    process.exit(1);
  });
  thread.on("exit", (code) => {
    if (!stopping) {
      log.fatal({ code }, "delivery thread exited");
      process.exit(1);
    }
  });
  await waitFor(thread, "started");
  return {
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
