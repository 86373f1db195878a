import {
  getQuickJS,
  shouldInterruptAfterDeadline,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from "quickjs-emscripten";
import type { TransformationConfig } from "../../config.ts";
import { MAX_TRANSFORMED_BODY_BYTES } from "../../constants/limits.ts";

/**
 * Consumers' transformations run in QuickJS compiled to WebAssembly: code
 * that cannot reach anything of the process it runs in. The engine has no
 * network, file system, timers, `require` or `process`, only the language
 * and the `console` given here; each compiled transformation has a runtime
 * of its own (its own heap, under the memory limit) and each run a deadline.
 */

/** The request a handler receives. */
export interface WebhookInput {
  method: "POST";
  url: string;
  /** The event body as it would be sent. */
  payload: unknown;
  eventType: string;
  cancel: false;
}

/** What a handler may return: the request changed, or cancelled. */
export interface WebhookOutput {
  method: "POST" | "PUT";
  url: string;
  payload: unknown;
  cancel: boolean;
}

export type RunOutcome = { webhook: WebhookOutput; console: string[] } | { error: string; console: string[] };

/** Code that did not compile, or defines no handler: the engine's message and the line it points at. */
export class CompileError extends Error {
  constructor(
    message: string,
    readonly line: number | null,
  ) {
    super(message);
  }
}

const FILE_NAME = "transformation.js";
/**
 * The engine's own stack limit: below what the host thread's stack holds
 * (deeper, a runaway recursion would overflow the host's stack inside the
 * WebAssembly instead of raising the engine's "stack overflow").
 */
const MAX_STACK_BYTES = 128 * 1024;
/** Console lines kept per run, and characters per line: enough to debug, not a place to store data. */
const MAX_CONSOLE_LINES = 50;
const MAX_CONSOLE_LINE = 500;

let engine: Promise<QuickJSWASMModule> | undefined;
/** The WebAssembly engine, loaded once per thread. */
export const loadEngine = (): Promise<QuickJSWASMModule> => (engine ??= getQuickJS());

/**
 * Builds the handler's argument from the URL and the body's JSON inside the
 * engine, and turns a result back into JSON with the engine's own functions
 * as they were before the consumer's code ran: code that replaces
 * `JSON.parse` only changes what its own handler does.
 */
const BRIDGE = `(function (parse, stringify) {
  return {
    input: function (url, body) { var payload = parse(body); return { method: "POST", url: url, payload: payload, eventType: payload && typeof payload.eventType === "string" ? payload.eventType : "", cancel: false }; },
    output: function (value) { var text = stringify(value); return typeof text === "string" ? text : null; },
  };
})(JSON.parse, JSON.stringify)`;

interface ConsoleLines {
  lines: string[];
}

/** A transformation's code, compiled once in a runtime of its own; each run calls its handler. */
export class CompiledTransformation {
  private disposed = false;
  /** Set when a run went past a limit. */
  private exhausted = false;

  private constructor(
    private readonly runtime: QuickJSRuntime,
    private readonly vm: QuickJSContext,
    private readonly handler: QuickJSHandle,
    private readonly input: QuickJSHandle,
    private readonly output: QuickJSHandle,
    private readonly limits: TransformationConfig,
    /** Where the engine's console writes: each run starts it afresh. */
    private readonly written: ConsoleLines,
  ) {}

  /** Compiles `code` and runs its top level (under the same limits as a run); throws CompileError when it fails or defines no handler. */
  static compile(engine: QuickJSWASMModule, code: string, limits: TransformationConfig): CompiledTransformation {
    const runtime = engine.newRuntime();
    runtime.setMemoryLimit(limits.memoryLimitBytes);
    runtime.setMaxStackSize(MAX_STACK_BYTES);
    const vm = runtime.newContext();
    const handles: QuickJSHandle[] = [];
    const keep = (handle: QuickJSHandle) => (handles.push(handle), handle);
    try {
      const bridge = keep(unwrap(vm, vm.evalCode(BRIDGE, "bridge.js")));
      const input = keep(vm.getProp(bridge, "input"));
      const output = keep(vm.getProp(bridge, "output"));
      // Lines logged while the top level runs are dropped; a run's are kept in its outcome.
      const written: ConsoleLines = { lines: [] };
      const logger = keep(vm.newObject());
      for (const level of ["log", "info", "warn", "error", "debug"]) {
        vm.newFunction(level, (...args) => {
          if (written.lines.length < MAX_CONSOLE_LINES)
            written.lines.push(
              args
                .map((arg) => describeValue(vm, arg))
                .join(" ")
                .slice(0, MAX_CONSOLE_LINE),
            );
        }).consume((fn) => vm.setProp(logger, level, fn));
      }
      vm.setProp(vm.global, "console", logger);
      runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.timeLimitMs));
      const result = vm.evalCode(code, FILE_NAME);
      if (result.error)
        throw compileError(
          result.error.consume((error) => vm.dump(error)),
          limits,
        );
      result.value.dispose();
      const handler = keep(vm.getProp(vm.global, "handler"));
      if (vm.typeof(handler) !== "function") throw new CompileError("The code defines no function handler(webhook)", null);
      const compiled = new CompiledTransformation(runtime, vm, handler, input, output, limits, written);
      for (const handle of [bridge, logger]) handle.dispose();
      return compiled;
    } catch (error) {
      for (const handle of handles) if (handle.alive) handle.dispose();
      vm.dispose();
      runtime.dispose();
      throw error;
    }
  }

  /** Whether a run ran out of time or memory: the engine's state is then unknown, and the transformation is compiled again. */
  get spent(): boolean {
    return this.disposed;
  }

  /** Calls the handler with the request to `url` carrying `body` (JSON text); never throws. */
  run(url: string, body: string): RunOutcome {
    if (this.disposed) return { error: "The transformation was disposed", console: [] };
    this.written.lines = [];
    this.exhausted = false;
    const handles: QuickJSHandle[] = [];
    let outcome: RunOutcome;
    try {
      outcome = this.call(url, body, handles);
    } catch (error) {
      // The engine itself failed (not the code it ran): its state is unknown, so it is not used again.
      this.exhausted = true;
      outcome = { error: `The transformation engine failed: ${error instanceof Error ? error.message : String(error)}`, console: this.written.lines };
    }
    for (const handle of handles) if (handle.alive) handle.dispose();
    // Out of time or memory, the engine's state is unknown: the next run compiles the code again.
    if (this.exhausted) this.dispose();
    return outcome;
  }

  private call(url: string, body: string, handles: QuickJSHandle[]): RunOutcome {
    const { vm } = this;
    const args = [vm.newString(url), vm.newString(body)];
    handles.push(...args);
    this.runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + this.limits.timeLimitMs));
    const input = vm.callFunction(this.input, vm.undefined, ...args);
    if (input.error) return this.failed(input.error, "The event body is not JSON the engine can read");
    handles.push(input.value);
    const returned = vm.callFunction(this.handler, vm.undefined, input.value);
    if (returned.error) return this.failed(returned.error, "The handler threw");
    handles.push(returned.value);
    const text = vm.callFunction(this.output, vm.undefined, returned.value);
    if (text.error) return this.failed(text.error, "The handler's result cannot be written as JSON");
    handles.push(text.value);
    const json = vm.typeof(text.value) === "string" ? vm.getString(text.value) : null;
    // The result holds the payload and little else: its size is the body's, near enough.
    if (json !== null && Buffer.byteLength(json) > MAX_TRANSFORMED_BODY_BYTES + 1024)
      return {
        error: `The handler's result is ${Buffer.byteLength(json)} bytes: a transformed body may have at most ${MAX_TRANSFORMED_BODY_BYTES}`,
        console: this.written.lines,
      };
    const checked = json === null ? "The handler returned nothing: return the webhook object" : checkOutput(JSON.parse(json) as unknown);
    return typeof checked === "string" ? { error: checked, console: this.written.lines } : { webhook: checked, console: this.written.lines };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const handle of [this.handler, this.input, this.output]) if (handle.alive) handle.dispose();
    this.vm.dispose();
    this.runtime.dispose();
  }

  /** A run's failure, said in words; out of time or memory, the engine is marked for disposal. */
  private failed(handle: QuickJSHandle, context: string): RunOutcome {
    const thrown = handle.consume((error) => this.vm.dump(error) as unknown);
    const limit = exceededLimit(thrown, this.limits);
    this.exhausted ||= limit !== null;
    return { error: limit ?? `${context}: ${describeThrown(thrown)}`, console: this.written.lines };
  }
}

function unwrap(vm: QuickJSContext, result: ReturnType<QuickJSContext["evalCode"]>): QuickJSHandle {
  if (result.error) throw new Error(`The transformation bridge failed to compile: ${JSON.stringify(result.error.consume((error) => vm.dump(error)))}`);
  return result.value;
}

interface EngineError {
  name?: unknown;
  message?: unknown;
  stack?: unknown;
  lineNumber?: unknown;
}

/** The limit a run went past, said in words, or null when it failed otherwise. */
function exceededLimit(thrown: unknown, limits: TransformationConfig): string | null {
  const error = thrown as EngineError | null | undefined;
  if (error?.name === "InternalError" && error.message === "interrupted") return `The transformation ran out of time (the limit is ${limits.timeLimitMs} ms)`;
  // Out of memory, the engine may not even have the memory to build its error, and throws null instead.
  if ((error?.name === "InternalError" && error.message === "out of memory") || thrown === null)
    return `The transformation ran out of memory (the limit is ${limits.memoryLimitBytes / 1024 / 1024} MB)`;
  if (error?.name === "InternalError" && error.message === "stack overflow") return "The transformation overflowed its stack (runaway recursion?)";
  return null;
}

/** `TypeError: x is undefined (line 3)`, from whatever the code threw. */
function describeThrown(thrown: unknown): string {
  if (typeof thrown !== "object" || thrown === null) return JSON.stringify(thrown) ?? String(thrown);
  const { name, message } = thrown as EngineError;
  const line = lineOf(thrown as EngineError);
  const text = typeof message === "string" ? `${typeof name === "string" ? `${name}: ` : ""}${message}` : JSON.stringify(thrown).slice(0, MAX_CONSOLE_LINE);
  return line === null ? text : `${text} (line ${line})`;
}

/** The line of the consumer's code an error points at: its own, or its stack's first frame in the code. */
function lineOf({ lineNumber, stack }: EngineError): number | null {
  if (typeof lineNumber === "number") return lineNumber;
  const match = typeof stack === "string" ? new RegExp(`${FILE_NAME.replace(".", "\\.")}:(\\d+)`).exec(stack) : null;
  return match ? Number(match[1]) : null;
}

function compileError(thrown: unknown, limits: TransformationConfig): CompileError {
  const limit = exceededLimit(thrown, limits);
  if (limit !== null) return new CompileError(`${limit} while running the code's top level`, null);
  const { name, message } = (thrown ?? {}) as EngineError;
  const text = typeof message === "string" ? `${typeof name === "string" ? `${name}: ` : ""}${message}` : describeThrown(thrown);
  return new CompileError(text, lineOf((thrown ?? {}) as EngineError));
}

/** A console argument as text: strings as they are, anything else as the engine shows it. */
function describeValue(vm: QuickJSContext, handle: QuickJSHandle): string {
  if (vm.typeof(handle) === "string") return vm.getString(handle);
  const value: unknown = vm.dump(handle);
  return typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
}

/** The handler's result checked; a string says what is wrong with it. */
function checkOutput(value: unknown): WebhookOutput | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "The handler must return the webhook object";
  const { method, url, payload, cancel } = value as Record<string, unknown>;
  if (cancel !== undefined && typeof cancel !== "boolean") return "cancel must be true or false";
  if (method !== "POST" && method !== "PUT") return `method must be "POST" or "PUT", not ${JSON.stringify(method) ?? "undefined"}`;
  if (typeof url !== "string") return "url must be a string";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `url ${JSON.stringify(url.slice(0, 200))} is not a URL`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return `url must be http or https, not ${parsed.protocol}`;
  if (payload === undefined) return "payload is missing: return the webhook with its payload";
  return { method, url, payload, cancel: cancel === true };
}
