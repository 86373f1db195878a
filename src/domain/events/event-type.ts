import type { JsonSchema } from "../../openapi/codat.ts";

/** One event type of the catalog. */
export interface EventTypeDefinition {
  eventType: string;
  description: string;
  /** JSON Schema of the whole event body: a reference into the Codat document, or inline for Hookline's own events. */
  schema: JsonSchema;
  example: unknown;
}
