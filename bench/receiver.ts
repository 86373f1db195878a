/**
 * The bench's webhook receiver, a process of its own so it does not share an
 * event loop with what it measures. It answers 204 (or 503 when told to, or
 * as told for one path: another status, or late), counts each (webhook-id,
 * path) pair to find duplicates, and records the latency from the event's
 * generatedDate to its arrival, in all and per path.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** How the receiver answers on one path: with `status` (204 by default), after `delayMs`. */
export interface PathBehaviour {
  status?: number;
  delayMs?: number;
}
export type ReceiverCommand =
  | { type: "reset"; failing?: boolean }
  | { type: "behave"; path: string; behaviour: PathBehaviour }
  | { type: "stats" }
  | { type: "samples"; path: string; countOnly?: boolean };
/** One path's deliveries that were answered 2xx: when each first arrived and its latency, and the most requests it held open at once. */
export interface PathSamples {
  type: "samples";
  count: number;
  arrivals: number[];
  latencies: number[];
  mostOpen: number;
}
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
let behaviours = new Map<string, PathBehaviour>();
let paths = new Map<string, { arrivals: number[]; latencies: number[]; open: number; mostOpen: number }>();
const pathOf = (path: string) => paths.get(path) ?? paths.set(path, { arrivals: [], latencies: [], open: 0, mostOpen: 0 }).get(path)!;

const GENERATED = /"generatedDate":"([^"]+)"/;

const handle: Parameters<typeof createServer>[1] = (request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const now = Date.now();
    requests++;
    const path = request.url ?? "";
    const behaviour = behaviours.get(path);
    const status = failing ? 503 : (behaviour?.status ?? 204);
    const id = request.headers["webhook-id"];
    if (typeof id === "string" && status < 300) {
      const key = `${path} ${id}`;
      const count = seen.get(key) ?? 0;
      seen.set(key, count + 1);
      if (count === 0) {
        const generated = GENERATED.exec(Buffer.concat(chunks).toString("utf8"))?.[1];
        const stats = pathOf(path);
        stats.arrivals.push(now);
        if (generated) {
          latencies.push(now - Date.parse(generated));
          stats.latencies.push(now - Date.parse(generated));
        }
        firstAt ??= now;
        lastAt = now;
      }
    }
    if (!behaviour?.delayMs) return response.writeHead(status).end();
    const stats = pathOf(path);
    stats.mostOpen = Math.max(stats.mostOpen, ++stats.open);
    setTimeout(() => {
      stats.open--;
      response.writeHead(status).end();
    }, behaviour.delayMs);
  });
};

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
    behaviours = new Map();
    paths = new Map();
    process.send!({ type: "reset" });
    return;
  }
  if (command.type === "behave") {
    behaviours.set(command.path, command.behaviour);
    process.send!({ type: "behave" });
    return;
  }
  if (command.type === "samples") {
    const { arrivals, latencies, mostOpen } = pathOf(command.path);
    const samples = command.countOnly ? { arrivals: [], latencies: [] } : { arrivals, latencies };
    process.send!({ type: "samples", count: arrivals.length, ...samples, mostOpen } satisfies PathSamples);
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

// One port on each loopback address the bench gives (its arguments): each address is an origin of its own.
const hosts = process.argv.slice(2);
const listen = (host: string, port: number, listening: (port: number) => void) => {
  const server = createServer(handle);
  server.keepAliveTimeout = 60_000;
  server.listen(port, host, () => listening((server.address() as AddressInfo).port));
};
listen(hosts[0]!, 0, (port) => {
  let listening = 1;
  for (const host of hosts.slice(1))
    listen(host, port, () => {
      if (++listening === hosts.length) process.send!({ type: "ready", port });
    });
  if (hosts.length === 1) process.send!({ type: "ready", port });
});
