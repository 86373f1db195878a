import { MAX_TRANSFORMATION_CODE_LENGTH, MAX_TRANSFORMATION_TESTS_PER_CLIENT } from "../../constants/limits.ts";
import type { JsonSchema } from "../codat.ts";
import { closedObject } from "./consumers.ts";
import { errorResponse } from "./shared.ts";

const json = (schema: JsonSchema) => ({ "application/json": { schema } });
const webhookId = { $ref: "#/components/parameters/webhookId" };
const common = { "401": errorResponse("Unauthorized"), "404": errorResponse("Webhook consumer not found") };

const code: JsonSchema = {
  type: "string",
  minLength: 1,
  maxLength: MAX_TRANSFORMATION_CODE_LENGTH,
  description:
    "JavaScript defining `function handler(webhook)`. `webhook` is `{ method: \"POST\", url, payload, eventType, cancel: false }`, `payload` the event body as it would be sent; the handler returns it changed: `method` `POST` or `PUT`, another `url`, another `payload` (any JSON, sent as the body and signed), or `cancel: true` to send nothing. It runs in a sandboxed engine (QuickJS in WebAssembly) without network, file system, timers or `require`, under the operator's memory and time limits; `console.log` output is kept by test runs.",
};

/** Request bodies, also used by the routes to validate requests. */
export const transformationBody = closedObject({
  required: ["code"],
  properties: { code, enabled: { type: "boolean", description: "Whether deliveries run it; true when absent." } },
});

export const transformationTestBody = closedObject({
  properties: {
    code: { ...code, description: "The code to run; the consumer's saved code when absent." },
    payload: { description: "The event body the handler gets as `webhook.payload`; when absent, the catalog example of `eventType`." },
    eventType: { type: "string", description: "Without `payload`: the catalog event type whose example to use (the consumer's first subscribed type by default)." },
  },
});

const webhookOutput: JsonSchema = {
  type: "object",
  properties: {
    method: { type: "string", enum: ["POST", "PUT"] },
    url: { type: "string" },
    payload: {},
    cancel: { type: "boolean" },
  },
  required: ["method", "url", "payload", "cancel"],
};

const transformation = {
  description: "The consumer's transformation",
  content: json({ type: "object", properties: { code: { type: "string" }, enabled: { type: "boolean" } }, required: ["code", "enabled"] }),
};

/** A consumer's transformation: its code, and a test run. */
export const transformationPaths: Record<string, Record<string, JsonSchema>> = {
  "/webhooks/{webhookId}/transformation": {
    get: {
      operationId: "get-webhook-consumer-transformation",
      summary: "Get webhook consumer transformation",
      description: "Hookline extension. The consumer's transformation code and whether deliveries run it.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      responses: { "200": transformation, "401": errorResponse("Unauthorized"), "404": errorResponse("Webhook consumer or transformation not found") },
    },
    put: {
      operationId: "set-webhook-consumer-transformation",
      summary: "Set webhook consumer transformation",
      description:
        "Hookline extension. Saves the code once it compiles and defines `handler`; deliveries from then on run it, those already due included. A handler that throws, runs out of time or memory, or returns something invalid fails its attempt with the reason, and the retry schedule applies. A URL it sets passes the same destination checks as the consumer's own.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      requestBody: { required: true, content: json(transformationBody) },
      responses: { "200": transformation, "400": errorResponse("The code does not compile, or defines no handler: the engine's message and line"), ...common },
    },
    delete: {
      operationId: "delete-webhook-consumer-transformation",
      summary: "Remove webhook consumer transformation",
      description: "Hookline extension. Deliveries carry the event body again.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      responses: { "204": { description: "Removed" }, "401": errorResponse("Unauthorized"), "404": errorResponse("Webhook consumer or transformation not found") },
    },
  },
  "/webhooks/{webhookId}/transformation/test": {
    post: {
      operationId: "test-webhook-consumer-transformation",
      summary: "Test webhook consumer transformation",
      description:
        "Hookline extension. Runs the code (given, or the consumer's) once on a given event body or a catalog example, and answers what the delivery would be, the console output and the error, if any. Nothing is sent or saved.",
      tags: ["Webhooks"],
      parameters: [webhookId],
      requestBody: { required: true, content: json(transformationTestBody) },
      responses: {
        "200": {
          description: "The run: `result` null when it failed, `error` null when it did not",
          content: json({
            type: "object",
            properties: { result: { oneOf: [webhookOutput, { type: "null" }] }, console: { type: "array", items: { type: "string" } }, error: { type: ["string", "null"] } },
            required: ["result", "console", "error"],
          }),
        },
        "400": errorResponse("No code to run, or no catalog example for the event type"),
        "429": errorResponse(`The client has ${MAX_TRANSFORMATION_TESTS_PER_CLIENT} test runs under way already (running or waiting for the engine): try again once they end`),
        ...common,
      },
    },
  },
};
