import assert from "node:assert/strict";
import { test } from "node:test";
import { CONNECTION_ERROR_STATUSES, CONNECTION_STATUSES } from "../../src/constants/statuses.ts";
import { codatDocument } from "../../src/openapi/codat.ts";

const connectionDefinitions = (codatDocument.components.schemas.Connection as { definitions: Record<string, any> }).definitions;

test("connection statuses are the ones Codat's document lists", () => {
  assert.deepEqual([...CONNECTION_STATUSES], connectionDefinitions.dataConnectionStatus.enum);
});

test("connection error statuses are the ones Codat's document lists", () => {
  assert.deepEqual([...CONNECTION_ERROR_STATUSES], connectionDefinitions.dataConnectionError.properties.status.enum);
});
