import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { parentPort, workerData } from "node:worker_threads";
import { systemClock } from "../clock.ts";
import type { Config } from "../config.ts";
import { startPayloadRetention } from "../domain/retention.ts";
import { createLogger } from "../logger.ts";
import { secretBoxFor } from "../secret-box.ts";
import { Store } from "../storage/database.ts";
import { DestinationPolicy } from "./destination-policy.ts";
import { batchMetrics } from "./metrics.ts";
import { WebhookSender } from "./sender.ts";
import type { ThreadMessage } from "./thread.ts";
import { DeliveryWorker } from "./worker.ts";

// The delivery thread's side of thread.ts: one worker on its own connection to the database.
const config = workerData as Config;
const port = parentPort!;
const post = (message: ThreadMessage) => port.postMessage(message);
const lines = new Writable({
  write(chunk: Buffer, _encoding, done) {
    post({ type: "log", line: chunk.toString("utf8") });
    done();
  },
});
const logger = createLogger(config.logLevel, lines).child({ component: "worker" });
const store = await Store.open(config.databaseUrl, { sqliteSynchronous: config.sqliteSynchronous });
const sender = new WebhookSender(new DestinationPolicy(config.allowedCidrs), config.delivery.attemptTimeoutMs, config.delivery.responseExcerptBytes, {
  extraCa: config.delivery.extraCaFile === null ? null : readFileSync(config.delivery.extraCaFile, "utf8"),
  secretBox: secretBoxFor(config.consumers.encryptionKey),
});
const worker = new DeliveryWorker(store, config.delivery, systemClock, sender, logger, (updates) => post({ type: "metrics", delta: batchMetrics(updates) }));
await worker.start();
// The worker role also purges expired message payloads.
const retention = startPayloadRetention(store, config.messages, systemClock, logger);

port.on("message", async (message: ThreadMessage) => {
  if (message.type !== "stop") return;
  await worker.stop();
  await retention.stop();
  await sender.close();
  await store.close();
  post({ type: "stopped" });
});
post({ type: "started" });
