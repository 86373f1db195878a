import type { JsonSchema } from "../codat.ts";
import { consumerPaths } from "./consumers.ts";
import { eventPaths } from "./events.ts";
import { insightPaths } from "./insights.ts";
import { listenPaths } from "./listen.ts";
import { messagePaths } from "./messages.ts";
import { migrationPaths } from "./migration.ts";
import { observabilityPaths } from "./observability.ts";
import { operatorPaths } from "./operator.ts";
import { portalPaths } from "./portal.ts";
import { transformationPaths } from "./transformations.ts";

/** Every path Hookline adds to the Codat operations it shares; one module per area. */
export const hooklinePaths: Array<Record<string, Record<string, JsonSchema>>> = [
  consumerPaths,
  migrationPaths,
  messagePaths,
  eventPaths,
  observabilityPaths,
  portalPaths,
  transformationPaths,
  insightPaths,
  listenPaths,
  operatorPaths,
];
