import type { ConsumerId } from "../ids.ts";

/**
 * A listen consumer's URL: not a place to send to (the destination policy
 * refuses the scheme, so no API call can make or aim a consumer at one), but
 * the mark that its deliveries wait for a listening CLI's stream.
 */
export const listenUrl = (consumerId: ConsumerId) => `listen:${consumerId}`;

export const isListenUrl = (url: string) => url.startsWith("listen:");
