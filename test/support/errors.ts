import assert from "node:assert/strict";
import type { ApiResponse } from "./server.ts";

/**
 * Asserts a response is Codat's ErrorMessage with the status it was sent with: statusCode,
 * service, a message (matching `error` when given), a correlation id equal to the
 * x-correlation-id header, canBeRetried and detailedErrorCode.
 */
export function assertErrorMessage(response: Pick<ApiResponse, "status" | "body" | "headers">, status: number, context = "", error?: RegExp): void {
  const where = context === "" ? "" : `${context}: `;
  assert.equal(response.status, status, `${where}status (body ${JSON.stringify(response.body)})`);
  const body = response.body;
  assert.equal(typeof body, "object", `${where}the body is an ErrorMessage object`);
  assert.equal(body.statusCode, status, `${where}statusCode`);
  assert.equal(body.service, "PublicApi", `${where}service`);
  assert.ok(typeof body.error === "string" && body.error.length > 0, `${where}error`);
  if (error) assert.match(body.error, error, `${where}error`);
  assert.ok(typeof body.correlationId === "string" && body.correlationId.length > 0, `${where}correlationId`);
  assert.equal(body.correlationId, response.headers.get("x-correlation-id"), `${where}correlationId matches the x-correlation-id header`);
  assert.equal(typeof body.canBeRetried, "string", `${where}canBeRetried`);
  assert.equal(typeof body.detailedErrorCode, "number", `${where}detailedErrorCode`);
}
