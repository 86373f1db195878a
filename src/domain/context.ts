import type { Clock } from "../clock.ts";
import type { DestinationPolicy } from "../delivery/destination-policy.ts";
import type { Store } from "../storage/database.ts";

/** What every domain operation needs: the database, the time, the URL the server is reached at, and where webhooks may go. */
export interface DomainContext {
  store: Store;
  clock: Clock;
  publicUrl: string;
  destinations: DestinationPolicy;
}
