/**
 * The bench's webhook receiver, a process of its own so it does not share an
 * event loop with what it measures. It answers 204 (or 503 when told to),
 * counts each (webhook-id, path) pair to find duplicates, and records the
 * latency from the event's generatedDate to its arrival.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export type ReceiverCommand = { type: "reset"; failing?: boolean } | { type: "stats" };
export interface ReceiverStats {
  type: "stats";
  requests: number;
  unique: number;
  duplicates: number;
  firstAt: number | null;
  lastAt: number | null;
  latencyMs: { p50: number; p90: number; p99: number; max: number } | null;
}

let seen = new Map<string, number>();
let latencies: number[] = [];
let requests = 0;
let firstAt: number | null = null;
let lastAt: number | null = null;
let failing = false;

const GENERATED = /"generatedDate":"([^"]+)"/;

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const now = Date.now();
    requests++;
    const id = request.headers["webhook-id"];
    if (typeof id === "string" && !failing) {
      const key = `${request.url} ${id}`;
      const count = seen.get(key) ?? 0;
      seen.set(key, count + 1);
      if (count === 0) {
        const generated = GENERATED.exec(Buffer.concat(chunks).toString("utf8"))?.[1];
        if (generated) latencies.push(now - Date.parse(generated));
        firstAt ??= now;
        lastAt = now;
      }
    }
    response.writeHead(failing ? 503 : 204).end();
  });
});
server.keepAliveTimeout = 60_000;

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

process.on("message", (command: ReceiverCommand) => {
  if (command.type === "reset") {
    seen = new Map();
    latencies = [];
    requests = 0;
    firstAt = lastAt = null;
    failing = command.failing ?? false;
    process.send!({ type: "reset" });
    return;
  }
  const sorted = latencies.slice().sort((a, b) => a - b);
  const stats: ReceiverStats = {
    type: "stats",
    requests,
    unique: seen.size,
    duplicates: [...seen.values()].reduce((sum, count) => sum + count - 1, 0),
    firstAt,
    lastAt,
    latencyMs:
      sorted.length === 0
        ? null
        : { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1]! },
  };
  process.send!(stats);
});

server.listen(0, "127.0.0.1", () => process.send!({ type: "ready", port: (server.address() as AddressInfo).port }));
