import { codatDocument, codatRef } from "../../openapi/codat.ts";
import type { EventTypeDefinition } from "./event-type.ts";
import { operationalEvents } from "./operational.ts";

/** Placeholder the catalog uses for write events, e.g. `{dataType}.write.successful`. */
const DATA_TYPE_PLACEHOLDER = "{dataType}";

const dataTypes: readonly string[] = (codatDocument.components.schemas.DataStatus as { properties: { dataType: { enum: string[] } } }).properties.dataType.enum;

/** The platform-wide event types of the Codat OpenAPI `webhooks` section, in its order, then Hookline's own operational events. */
export const eventCatalog: readonly EventTypeDefinition[] = [
  ...Object.entries(codatDocument.webhooks).map(([eventType, { post }]) => {
    const content = post.requestBody.content["application/json"];
    return {
      eventType,
      description: post.description ?? "",
      schema: codatRef(content.schema.$ref.slice(1)),
      example: Object.values(content.examples ?? {})[0]?.value,
    };
  }),
  ...operationalEvents,
];

const byType = new Map(eventCatalog.map((definition) => [definition.eventType, definition]));

/** The catalog entry for an event type, resolving `invoices.write.successful` to `{dataType}.write.successful`. */
export function findEventType(eventType: string): EventTypeDefinition | undefined {
  const exact = byType.get(eventType);
  if (exact) return exact;
  const dot = eventType.indexOf(".");
  if (dot <= 0 || !dataTypes.includes(eventType.slice(0, dot))) return undefined;
  return byType.get(DATA_TYPE_PLACEHOLDER + eventType.slice(dot));
}

export const catalogEventTypes = (): string[] => eventCatalog.map((definition) => definition.eventType);

/** Whether an event type is a catalog pattern (`{dataType}.write.successful`) rather than a type an event can have. */
export const isPattern = (eventType: string): boolean => eventType.includes(DATA_TYPE_PLACEHOLDER);

/** What errors about `{dataType}` types say: the concrete form to write instead, with the data types there are. */
export function dataTypeHint(eventType = `${DATA_TYPE_PLACEHOLDER}.write.successful`): string {
  return `{dataType} stands for a data type: write the type with one, e.g. "${concreteForm(eventType)}" (data types: ${dataTypes.join(", ")})`;
}

/** A pattern with a data type in it, e.g. `invoices.write.successful` for `{dataType}.write.successful`. */
export const concreteForm = (pattern: string): string =>
  isPattern(pattern) ? pattern.replace(DATA_TYPE_PLACEHOLDER, "invoices") : `invoices.write.successful`;

/** Whether a consumer subscribed to `subscribed` receives `eventType` (a `{dataType}` entry covers every data type). */
export function subscriptionMatches(subscribed: readonly string[], eventType: string): boolean {
  if (subscribed.includes(eventType)) return true;
  const dot = eventType.indexOf(".");
  return dot > 0 && findEventType(eventType) !== undefined && subscribed.includes(DATA_TYPE_PLACEHOLDER + eventType.slice(dot));
}
