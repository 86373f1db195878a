import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { systemClock } from "../clock.ts";
import type { Config } from "../config.ts";
import { SecretBox } from "../secret-box.ts";
import { DestinationPolicy } from "../domain/destination-policy.ts";
import { TransformationRunner } from "../domain/transformations/runner.ts";
import { sendBatch, type EarlyResults } from "./pipeline.ts";
import { WebhookSender } from "./sender.ts";
import type { ThreadMessage } from "./thread.ts";

// The sender thread's side of thread.ts: it signs and sends the batches the worker hands it.
const config = workerData as Config;
const port = parentPort!;
const post = (message: ThreadMessage) => port.postMessage(message);
const { attemptTimeoutMs, leaseMs } = config.delivery;
// A batch's attempts end by the lease's end less one attempt timeout, which leaves the worker that long to record them
// (the configuration makes the lease at least two timeouts and a margin, so a sent attempt always has its whole timeout).
const giveUpAfterMs = leaseMs - attemptTimeoutMs;
const sender = new WebhookSender(
  new DestinationPolicy(config.allowedCidrs),
  attemptTimeoutMs,
  config.delivery.responseExcerptBytes,
  {
    extraCa: config.delivery.extraCaFile === null ? null : readFileSync(config.delivery.extraCaFile, "utf8"),
    secretBox: new SecretBox(config.consumers.encryptionKeys),
  },
  giveUpAfterMs,
);
// A batch's transformations end in time for its attempts to have their whole timeout before the sender gives up.
const transformations = new TransformationRunner(config.transformations, giveUpAfterMs - attemptTimeoutMs);

port.on("message", async (message: ThreadMessage) => {
  if (message.type === "send") {
    // The sender reports a failed send as a result; anything else that throws fails this batch alone, as it would on one thread.
    try {
      const early = (results: EarlyResults) => post({ type: "early", batch: message.batch, results });
      const results = await sendBatch(sender, systemClock, transformations, message, early, config.delivery.slowConsumerMs);
      post({ type: "sent", batch: message.batch, results });
    } catch (error) {
      post({ type: "failed", batch: message.batch, error: error instanceof Error ? error.message : String(error) });
    }
  } else if (message.type === "stop") {
    await sender.close();
    await transformations.stop();
    post({ type: "stopped" });
  }
});
post({ type: "started" });
