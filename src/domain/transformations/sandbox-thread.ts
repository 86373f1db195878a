import { parentPort, workerData } from "node:worker_threads";
import type { ConsumerId } from "../../ids.ts";
import type { SandboxData, SandboxReply, SandboxRequest } from "./protocol.ts";
import { CompiledTransformation, CompileError, loadEngine, type RunOutcome } from "./sandbox.ts";

// The sandbox thread: it compiles and runs transformations one at a time, and the thread that started it
// (TransformationRunner) terminates it when a run overstays, whatever the engine is doing.
const { limits, running } = workerData as SandboxData;
/** What this thread is running, for its runner's guard: the request's id and since when (0 while idle). */
const current = new Float64Array(running);
const port = parentPort!;
const post = (reply: SandboxReply) => port.postMessage(reply);
const engine = await loadEngine();

/** Consumers whose compiled transformation is kept; past this the least recently used one is dropped. */
const MAX_COMPILED = 256;
/** In order of last use: a Map iterates in insertion order, and each use moves its entry to the end. */
const compiled = new Map<ConsumerId, { version: number; transformation: CompiledTransformation }>();

function compile(code: string): CompiledTransformation | RunOutcome {
  try {
    return CompiledTransformation.compile(engine, code, limits);
  } catch (error) {
    // Saved code compiled when it was saved; it may still fail here, its top level out of time on a busy machine.
    if (!(error instanceof CompileError)) throw error;
    return { error: `The transformation does not compile: ${error.line === null ? error.message : `${error.message} (line ${error.line})`}`, console: [] };
  }
}

/**
 * After a run of a consumer's code went past a limit, the runs of the same code that follow within this long fail
 * at once with the same reason: a batch holds many deliveries to one consumer, and one overrun each is enough.
 */
const SKIP_AFTER_OVERRUN_MS = 1000;
const overruns = new Map<ConsumerId, { version: number; at: number; reason: string }>();

/** Runs a consumer's saved code, compiled at its first run of each version (and again after a run went past a limit). */
function runSaved(consumerId: ConsumerId, version: number, code: string, url: string, body: string): RunOutcome {
  const overrun = overruns.get(consumerId);
  if (overrun?.version === version && Date.now() - overrun.at < SKIP_AFTER_OVERRUN_MS)
    return { error: `${overrun.reason} (on an earlier delivery moments ago: not run again yet)`, console: [] };
  const outcome = runCompiled(consumerId, version, code, url, body);
  if ("error" in outcome && compiled.get(consumerId)?.transformation.spent) overruns.set(consumerId, { version, at: Date.now(), reason: outcome.error });
  return outcome;
}

function runCompiled(consumerId: ConsumerId, version: number, code: string, url: string, body: string): RunOutcome {
  let entry = compiled.get(consumerId);
  compiled.delete(consumerId);
  if (entry === undefined || entry.version !== version || entry.transformation.spent) {
    entry?.transformation.dispose();
    const transformation = compile(code);
    if (!(transformation instanceof CompiledTransformation)) return transformation;
    entry = { version, transformation };
  }
  compiled.set(consumerId, entry);
  if (compiled.size > MAX_COMPILED) {
    const [oldest, { transformation }] = compiled.entries().next().value!;
    transformation.dispose();
    compiled.delete(oldest);
  }
  return entry.transformation.run(url, body);
}

/** Runs code once, compiled for this run only: a test run. */
function runOnce(code: string, url: string, body: string): RunOutcome {
  const transformation = compile(code);
  if (!(transformation instanceof CompiledTransformation)) return transformation;
  try {
    return transformation.run(url, body);
  } finally {
    transformation.dispose();
  }
}

port.on("message", (request: SandboxRequest) => {
  current[0] = request.id;
  current[1] = Date.now();
  try {
    answer(request);
  } finally {
    current[1] = 0;
  }
});

function answer(request: SandboxRequest): void {
  if (request.type === "check") {
    try {
      CompiledTransformation.compile(engine, request.code, limits).dispose();
      post({ type: "checked", id: request.id, problem: null });
    } catch (error) {
      if (!(error instanceof CompileError)) throw error;
      post({ type: "checked", id: request.id, problem: { message: error.message, line: error.line } });
    }
    return;
  }
  const { transformation, url, body, notAfter } = request;
  if (notAfter !== null && Date.now() > notAfter) {
    const error = "Not run: the transformations queued before it took too long (it is tried again on the retry schedule)";
    post({ type: "ran", id: request.id, outcome: { error, console: [] } });
    return;
  }
  const outcome =
    "consumerId" in transformation
      ? runSaved(transformation.consumerId, transformation.version, transformation.code, url, body)
      : runOnce(transformation.code, url, body);
  post({ type: "ran", id: request.id, outcome });
}
// One run before the first real one: the engine's WebAssembly is compiled as it is first used, which must not count
// against the first transformation's time limit.
const warmUp = CompiledTransformation.compile(
  engine,
  "function handler(webhook) { return { ...webhook, payload: JSON.parse(JSON.stringify(webhook.payload)) }; }",
  {
    ...limits,
    timeLimitMs: 10_000,
  },
);
warmUp.run("https://warm.up/", '{"eventType":"warm.up","payload":{"list":[1,"two"]}}');
warmUp.dispose();
post({ type: "ready" });
