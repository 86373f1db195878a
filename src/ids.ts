import { v7 } from "uuid";

declare const kind: unique symbol;
/**
 * An id of one kind of row. Ids are strings at run time; the kind exists only
 * for the compiler, so that passing a company's id where a connection's is
 * expected, or swapping two ids in a call, fails to compile.
 */
export type Id<Kind extends string> = string & { readonly [kind]: Kind };

export type ClientId = Id<"Client">;
export type ApiKeyId = Id<"ApiKey">;
export type OperatorTokenId = Id<"OperatorToken">;
export type CompanyId = Id<"Company">;
export type ConnectionId = Id<"Connection">;
export type ConnectionErrorId = Id<"ConnectionError">;
/** A webhook consumer: the API calls it a webhook (`/webhooks`). */
export type ConsumerId = Id<"Consumer">;
/** An event as stored and delivered: the API calls it a message (`/messages`). */
export type MessageId = Id<"Message">;
/** One consumer's copy of one message, with its schedule. */
export type DeliveryId = Id<"Delivery">;
export type AttemptId = Id<"Attempt">;
export type HistoryEntryId = Id<"HistoryEntry">;
/** A client's connection insight alert rule. */
export type InsightAlertId = Id<"InsightAlert">;

/**
 * A new row id: a UUID (version 7) that starts with the time it was made, so
 * rows written together sit together in every index that leads with an id.
 * With random ids each batch of deliveries and attempts dirtied a different
 * page per row, and SQLite's commits grew to milliseconds.
 */
export const newId = <T extends string = string>(): T => v7() as T;

/**
 * Gives a string read at an edge (a path parameter, a CLI argument, a row
 * of a table whose column is not yet typed) the kind of id it names. The
 * kind is a claim, not a check: an id that names no row is still not found
 * by the query that uses it.
 */
export const asId = <T extends Id<string>>(value: string): T => value as T;
