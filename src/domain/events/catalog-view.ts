import type { JsonSchema } from "../../openapi/codat.ts";
import { eventCatalog } from "./catalog.ts";
import { standaloneSchema } from "./event-schemas.ts";
import { isPublishable } from "./publish.ts";

export interface CatalogEntry {
  eventType: string;
  description: string;
  /** Whether the operator may publish it (POST /events); Hookline emits the others itself. */
  publishable: boolean;
  /** JSON Schema 2020-12 of the whole event body, usable on its own. */
  schema: JsonSchema;
  example: unknown;
}

/** Every event type of the catalog, as `GET /events/catalog` and `hookline events catalog` show it. */
export function describeCatalog(): { results: CatalogEntry[] } {
  return {
    results: eventCatalog.map((definition) => ({
      eventType: definition.eventType,
      description: definition.description,
      publishable: isPublishable(definition),
      schema: standaloneSchema(definition),
      example: definition.example,
    })),
  };
}
