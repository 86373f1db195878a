import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { findEventType } from "../../src/domain/events/catalog.ts";
import { validatorDocument } from "../../src/openapi/codat.ts";

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema(validatorDocument());

/** Validates a delivered body against its event type's schema in the Codat OpenAPI `webhooks` section. */
export function eventSchemaErrors(body: string): string[] {
  const event = JSON.parse(body) as { eventType: string };
  const definition = findEventType(event.eventType);
  if (!definition) return [`unknown event type ${event.eventType}`];
  const validate = ajv.compile(definition.schema);
  return validate(event) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
}
