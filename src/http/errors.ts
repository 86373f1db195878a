import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { badRequest, HooklineError, toErrorMessage, type ValidationItem } from "../errors.ts";

/**
 * Every failed request answers with Codat's ErrorMessage shape: Hookline's
 * own errors as raised, framework errors (bad JSON, schema violations,
 * oversized bodies, wrong content types) as 4xx, and anything unexpected as a
 * 500 that tells nothing of its cause beyond the correlation id.
 */
export function errorHandler(error: FastifyError | HooklineError | Error, request: FastifyRequest, reply: FastifyReply) {
  const mapped = toHooklineError(error);
  if (mapped.statusCode >= 500) request.log.error({ err: error }, "request failed");
  // Set here too: errors raised before routing (as framework errors) skip the app's onSend hook.
  void reply.status(mapped.statusCode).header("x-correlation-id", request.id).send(toErrorMessage(mapped, request.id));
}

function toHooklineError(error: FastifyError | HooklineError | Error): HooklineError {
  if (error instanceof HooklineError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const items: ValidationItem[] = fastifyError.validation.map((issue) => ({
      itemId: `${fastifyError.validationContext ?? "request"}${issue.instancePath}`,
      message: issue.message ?? "is invalid",
      validatorName: issue.keyword,
    }));
    const summary = items.map((item) => `${item.itemId} ${item.message}`).join("; ");
    return new HooklineError(400, `Invalid request: ${summary}`, items);
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return new HooklineError(status, fastifyError.message);
  return new HooklineError(500, "An internal error occurred", [], "Unknown");
}

export const routeNotFound = (request: FastifyRequest, reply: FastifyReply) =>
  reply.status(404).send(toErrorMessage(new HooklineError(404, `No route for ${request.method} ${request.url.split("?")[0]}`), request.id));

/** Whether any string (or object key) in a parsed body or query holds U+0000; walked without recursion, as bodies may nest deeply. */
function containsNul(root: unknown): boolean {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "string") {
      if (value.includes("\u0000")) return true;
    } else if (Array.isArray(value)) {
      pending.push(...value);
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) {
        if (key.includes("\u0000")) return true;
        pending.push(item);
      }
    }
  }
  return false;
}

/**
 * PostgreSQL text cannot hold NUL characters and no field of the API needs
 * one, so they are refused up front: a 400 on both databases rather than a
 * failed insert on one.
 */
export async function rejectNulCharacters(request: FastifyRequest): Promise<void> {
  if (containsNul(request.body) || containsNul(request.query)) {
    throw badRequest("Text must not contain NUL (U+0000) characters", [{ itemId: "request", message: "Contains U+0000", validatorName: "nul" }]);
  }
}
