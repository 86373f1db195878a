/**
 * The reference a team would otherwise build: a durable sender on BullMQ and
 * Redis (append-only persistence on), whose worker signs each delivery the
 * Standard Webhooks way and POSTs it with undici. It enqueues E events for K
 * consumers (E x K jobs) and sends them to the same receiver Hookline uses.
 */
import { randomUUID } from "node:crypto";
import { Queue, Worker } from "bullmq";
import { Agent, request } from "undici";
import { signatureHeaders } from "../src/delivery/signing.ts";

interface Job {
  id: string;
  url: string;
  body: string;
}

const [redisPort, receiverUrl, events, consumers, concurrency] = process.argv.slice(2);
const connection = { host: "127.0.0.1", port: Number(redisPort) };
const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const agent = new Agent({ keepAliveTimeout: 30_000, connections: Number(concurrency) });

const queue = new Queue<Job>("webhooks", { connection });
const worker = new Worker<Job>(
  "webhooks",
  async (job) => {
    const { id, url, body } = job.data;
    const response = await request(url, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/json", ...signatureHeaders([secret], id, Math.floor(Date.now() / 1000), body) },
      body,
      signal: AbortSignal.timeout(15_000),
    });
    await response.body.dump();
    if (response.statusCode < 200 || response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}`);
  },
  { connection, concurrency: Number(concurrency) },
);

const started = Date.now();
for (let event = 0; event < Number(events); event += 100) {
  const jobs = [];
  for (let index = event; index < Math.min(event + 100, Number(events)); index++) {
    const id = randomUUID();
    const body = JSON.stringify({
      id,
      eventType: "company.created",
      generatedDate: new Date().toISOString(),
      payload: { id: randomUUID(), name: `Bench ${index}` },
    });
    for (let consumer = 0; consumer < Number(consumers); consumer++) {
      jobs.push({
        name: "deliver",
        data: { id, url: `${receiverUrl}/${consumer}`, body },
        opts: { attempts: 8, backoff: { type: "exponential", delay: 5000 }, removeOnComplete: true },
      });
    }
  }
  await queue.addBulk(jobs);
}
process.send!({ type: "enqueued", ms: Date.now() - started });
process.on("message", async () => {
  await worker.close();
  await queue.close();
  await agent.close();
  process.exit(0);
});
