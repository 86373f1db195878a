import type { Migration } from "kysely";
import * as initial from "./001_initial.ts";

/** Every migration, in order. Names are permanent: never rename one that has shipped. */
export const migrations: Record<string, Migration> = {
  "001_initial": initial,
};
