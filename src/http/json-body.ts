import { isUtf8 } from "node:buffer";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { badRequest } from "../errors.ts";

/**
 * Fastify's JSON parser (with its guard against `__proto__` and `constructor`
 * keys), after checking the bytes are UTF-8: decoding would silently turn
 * invalid sequences into U+FFFD, storing and signing a payload the client
 * never sent.
 */
export function utf8JsonParser(app: FastifyInstance) {
  const parseJson = app.getDefaultJsonParser("error", "error");
  return (request: FastifyRequest, body: Buffer, done: (error: Error | null, value?: unknown) => void) => {
    if (!isUtf8(body)) {
      done(badRequest("The body is not valid UTF-8", [{ itemId: "body", message: "Contains bytes that are not valid UTF-8", validatorName: "utf8" }]));
      return;
    }
    parseJson(request, body.toString("utf8"), done);
  };
}
