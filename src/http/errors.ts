import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { badRequest, HooklineError, toErrorMessage, type ValidationItem } from "../errors.ts";
import { isDatabaseUnavailable } from "../storage/database.ts";

/** What a client is told to wait (Retry-After, seconds) while the database is unavailable: about what a restart of it takes. */
const DATABASE_RETRY_AFTER_S = 5;

/**
 * Every failed request answers with Codat's ErrorMessage shape: Hookline's
 * own errors as raised, framework errors (bad JSON, schema violations,
 * oversized bodies, wrong content types) as 4xx, the database unavailable
 * (down, restarting, its disk full) as a 503 with Retry-After, and anything
 * unexpected as a 500 that tells nothing of its cause beyond the correlation id.
 */
export function errorHandler(error: FastifyError | HooklineError | Error, request: FastifyRequest, reply: FastifyReply) {
  // A client that hangs up mid-body fails its own request stream with ECONNRESET, which is not the database's.
  if (request.raw.errored === error) {
    request.log.info("the client closed the connection before its request arrived");
    void reply
      .status(400)
      .header("x-correlation-id", request.id)
      .send(toErrorMessage(new HooklineError(400, "The request ended before its body arrived"), request.id));
    return;
  }
  const unavailable = isDatabaseUnavailable(error);
  const mapped = unavailable ? new HooklineError(503, "The database is unavailable; try again in a few seconds", [], "Yes") : toHooklineError(error);
  if (unavailable) {
    // The cause's code and message only: the whole error of a broken connection may carry its settings.
    request.log.warn({ cause: { code: (error as { code?: unknown }).code, message: error.message } }, "database unavailable; answered 503");
    void reply.header("retry-after", String(DATABASE_RETRY_AFTER_S));
  } else if (mapped.statusCode >= 500) {
    // A 5xx Hookline raised on purpose (not ready, shutting down) is a state, not a fault.
    if (error instanceof HooklineError) request.log.warn({ error: error.message }, "request refused");
    else request.log.error({ err: error }, "request failed");
  }
  // Set here too: errors raised before routing (as framework errors) skip the app's onSend hook.
  void reply.status(mapped.statusCode).header("x-correlation-id", request.id).send(toErrorMessage(mapped, request.id));
}

function toHooklineError(error: FastifyError | HooklineError | Error): HooklineError {
  if (error instanceof HooklineError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const issues = fastifyError.validation as Array<(typeof fastifyError.validation)[number] & { propertyName?: string }>;
    // A closed object refuses an unknown property three ways (its name's enum, propertyNames, additionalProperties):
    // the enum's, which names the property and the allowed ones, says it once.
    const named = new Set(issues.filter((issue) => issue.propertyName !== undefined).map((issue) => issue.instancePath));
    const items: ValidationItem[] = issues
      .filter((issue) => !(named.has(issue.instancePath) && (issue.keyword === "propertyNames" || issue.keyword === "additionalProperties")))
      .map((issue) => ({
        itemId: `${fastifyError.validationContext ?? "request"}${issue.instancePath}`,
        message:
          issue.propertyName !== undefined && Array.isArray(issue.params.allowedValues)
            ? `has no property "${issue.propertyName}"; it may have ${issue.params.allowedValues.join(", ")}`
            : (issue.message ?? "is invalid"),
        validatorName: issue.propertyName !== undefined ? "propertyNames" : issue.keyword,
      }));
    const summary = items.map((item) => `${item.itemId} ${item.message}`).join("; ");
    return new HooklineError(400, `Invalid request: ${summary}`, items);
  }
  // The parser's message quotes the body around the fault, and a body may hold credentials.
  if (error instanceof SyntaxError || fastifyError.code === "FST_ERR_CTP_INVALID_JSON_BODY") return new HooklineError(400, "The body is not valid JSON");
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return new HooklineError(status, fastifyError.message);
  return new HooklineError(500, "An internal error occurred", [], "Unknown");
}

export const newCorrelationId = () => randomUUID().replace(/-/g, "");

const CLIENT_ERRORS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, "The request was not received in time"],
  HPE_HEADER_OVERFLOW: [431, "The request line and headers are too large"],
};

/**
 * What Node refuses before a request reaches Fastify (one that took too
 * long to arrive, headers beyond the size limit, bytes that are not HTTP):
 * answered in the ErrorMessage shape, then the connection is closed.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, message] = CLIENT_ERRORS[error.code ?? ""] ?? [400, "The request is not valid HTTP"];
  const correlationId = newCorrelationId();
  const body = JSON.stringify(toErrorMessage(new HooklineError(status, message), correlationId));
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    "content-type: application/json; charset=utf-8",
    `content-length: ${Buffer.byteLength(body)}`,
    `x-correlation-id: ${correlationId}`,
    "connection: close",
  ];
  // Closed once the answer is written, whatever the client still sends.
  if (socket.writable) socket.end(`${head.join("\r\n")}\r\n\r\n${body}`, () => socket.destroy());
  else socket.destroy();
}

export const routeNotFound = (request: FastifyRequest, reply: FastifyReply) =>
  reply.status(404).send(toErrorMessage(new HooklineError(404, `No route for ${request.method} ${request.url.split("?")[0]}`), request.id));

/** Deeper JSON than any event payload needs; serialising much deeper input overflows the stack. */
const MAX_DEPTH = 64;

/**
 * What is wrong with a parsed body or query, if anything: a string (or object
 * key) holding U+0000, or nesting deeper than MAX_DEPTH. Walked without
 * recursion, since the input may nest deeply.
 */
function fault(root: unknown): "nul" | "depth" | undefined {
  const pending: Array<[unknown, number]> = [[root, 0]];
  while (pending.length > 0) {
    const [value, depth] = pending.pop()!;
    if (typeof value === "string") {
      if (value.includes("\u0000")) return "nul";
    } else if (value !== null && typeof value === "object") {
      if (depth >= MAX_DEPTH) return "depth";
      for (const [key, item] of Object.entries(value)) {
        if (key.includes("\u0000")) return "nul";
        pending.push([item, depth + 1]);
      }
    }
  }
  return undefined;
}

/**
 * PostgreSQL text cannot hold NUL characters and no field of the API needs
 * one, so they are refused up front: a 400 on both databases rather than a
 * failed insert on one. So is JSON nested deeper than any payload needs.
 */
export async function rejectMalformedText(request: FastifyRequest): Promise<void> {
  const found = fault(request.body) ?? fault(request.query);
  if (found === "nul") {
    throw badRequest("Text must not contain NUL (U+0000) characters", [{ itemId: "request", message: "Contains U+0000", validatorName: "nul" }]);
  }
  if (found === "depth") {
    throw badRequest(`JSON must not nest deeper than ${MAX_DEPTH} levels`, [
      { itemId: "request", message: `Nested deeper than ${MAX_DEPTH} levels`, validatorName: "depth" },
    ]);
  }
}
