import type { Clock } from "../clock.ts";
import type { TenantLimits } from "../config.ts";
import type { DestinationPolicy } from "./destination-policy.ts";
import type { Store } from "../storage/database.ts";
import type { SecretBox } from "../secret-box.ts";

/** What every domain operation needs: the database, the time, the URL the server is reached at, and where webhooks may go. */
export interface DomainContext {
  store: Store;
  clock: Clock;
  publicUrl: string;
  destinations: DestinationPolicy;
  /** Messages per second that recover and replay send to a consumer without a rate limit of its own. */
  recoveryRatePerSecond: number;
  /** Seals consumers' secrets (signing secrets, custom header values, mTLS private keys) at rest. */
  secretBox: SecretBox;
  /** How long a rotated-out signing secret keeps signing beside the new one. */
  secretRotationOverlapMs: number;
  limits: TenantLimits;
}
