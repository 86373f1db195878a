import { v7 } from "uuid";

/**
 * A new row id: a UUID (version 7) that starts with the time it was made, so
 * rows written together sit together in every index that leads with an id.
 * With random ids each batch of deliveries and attempts dirtied a different
 * page per row, and SQLite's commits grew to milliseconds.
 */
export const newId = (): string => v7();
