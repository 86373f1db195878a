/**
 * The statuses rows and API resources take, defined once for the database
 * types, the domain's rules and the OpenAPI document. Connection statuses are
 * Codat's, as its document lists them.
 */

/**
 * Where a delivery stands: `Sending` before its first attempt, `Attempting`
 * while a retry is scheduled, then `Success` or `Failure` (no retry left).
 */
export const DELIVERY_STATUSES = ["Sending", "Attempting", "Success", "Failure"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Deliveries still to be attempted: the worker sends their message's body at each attempt. */
export const PENDING_DELIVERY_STATUSES: readonly DeliveryStatus[] = ["Sending", "Attempting"];

/**
 * How a consumer's deliveries are sent: concurrently, in any order; one at a
 * time in event order (`fifo`); or one at a time in event order for each
 * company, the companies concurrently (`fifo-by-company`; events without a
 * company form one line of their own).
 */
export const CONSUMER_ORDERINGS = ["unordered", "fifo", "fifo-by-company"] as const;
export type ConsumerOrdering = (typeof CONSUMER_ORDERINGS)[number];

/** Whether the consumer's deliveries wait in line (one at a time per line). */
export const isOrdered = (ordering: ConsumerOrdering): boolean => ordering !== "unordered";

/** A connection's authorization status (Codat's dataConnectionStatus). */
export const CONNECTION_STATUSES = ["PendingAuth", "Linked", "Unlinked", "Deauthorized"] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** Whether a connection's error still holds (Codat's error status of a data connection error). */
export const CONNECTION_ERROR_STATUSES = ["Active", "Resolved"] as const;
export type ConnectionErrorStatus = (typeof CONNECTION_ERROR_STATUSES)[number];
