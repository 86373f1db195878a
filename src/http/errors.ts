import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { HooklineError, toErrorMessage, type ValidationItem } from "../errors.ts";

/**
 * Every failed request answers with Codat's ErrorMessage shape: Hookline's
 * own errors as raised, framework errors (bad JSON, schema violations,
 * oversized bodies, wrong content types) as 4xx, and anything unexpected as a
 * 500 that tells nothing of its cause beyond the correlation id.
 */
export function errorHandler(error: FastifyError | HooklineError | Error, request: FastifyRequest, reply: FastifyReply) {
  const mapped = toHooklineError(error);
  if (mapped.statusCode >= 500) request.log.error({ err: error }, "request failed");
  void reply.status(mapped.statusCode).send(toErrorMessage(mapped, request.id));
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
