import type { Logger } from "pino";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { IntegrationCatalog } from "../integrations/registry.ts";
import type { SecretBox } from "../secret-box.ts";
import type { Store } from "../storage/database.ts";
import type { DestinationPolicy } from "./destination-policy.ts";
import type { PerClientLimits } from "./per-client-limit.ts";
import type { TransformationRunner } from "./transformations/runner.ts";

/**
 * The one context every layer above storage is given: the settings, as the
 * config module read them, and the services made from them once at start.
 * Code reads a setting from `config`, never from a copy of its own.
 */
export interface AppContext {
  config: Config;
  store: Store;
  clock: Clock;
  /** Seals consumers' secrets (signing secrets, custom header values, mTLS private keys) at rest. */
  secretBox: SecretBox;
  /** Where webhooks may go: the SSRF policy, with the deployment's allow-list. */
  destinations: DestinationPolicy;
  logger: Logger;
  /** Checks and test-runs consumers' transformations for the API, on a sandbox thread started at first use. */
  transformations: TransformationRunner;
  /** The integrations this deployment offers: the sandbox and those of HOOKLINE_INTEGRATIONS_FILE. */
  integrations: IntegrationCatalog;
  /** How much of each costly kind of work one client may have under way in this process. */
  limits: PerClientLimits;
}
