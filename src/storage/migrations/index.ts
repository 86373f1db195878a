import { Migrator, type Migration } from "kysely";
import type { Db } from "../dialect/index.ts";
import * as initial from "./001_initial.ts";
import * as consumerSettings from "./002_consumer_settings.ts";
import * as messageLog from "./003_message_log.ts";
import * as events from "./004_events.ts";
import * as leaseAsDueTime from "./005_lease_as_due_time.ts";
import * as unrecordedClaims from "./006_unrecorded_claims.ts";
import * as retentionIndexes from "./007_retention_indexes.ts";
import * as jobRuns from "./008_job_runs.ts";
import * as circuitBreaker from "./009_circuit_breaker.ts";
import * as fifoOrdering from "./010_fifo_ordering.ts";
import * as messageRetention from "./011_message_retention.ts";
import * as oauthAndProfiles from "./012_oauth_and_profiles.ts";
import * as portal from "./013_portal.ts";
import * as transformations from "./014_transformations.ts";
import * as connectionInsight from "./015_connection_insight.ts";
import * as serverSettings from "./016_server_settings.ts";
import * as credentialsAndOperatorTokens from "./019_credentials_and_operator_tokens.ts";
import * as legacyMigration from "./020_legacy_migration.ts";
import * as linkStepBounds from "./022_link_step_bounds.ts";
import * as activityHours from "./023_activity_hours.ts";
import * as listenStreams from "./024_listen_streams.ts";
import * as parkedReasonsAndCompanyLines from "./025_parked_reasons_and_company_lines.ts";
import * as insightRollups from "./026_insight_rollups.ts";
import * as orderedLinesWait from "./027_ordered_lines_wait.ts";
import * as consumerSlowConcurrency from "./028_consumer_slow_concurrency.ts";

/** Every migration, in order. Names are permanent: never rename one that has shipped. */
export const migrations: Record<string, Migration> = {
  "001_initial": initial,
  "002_consumer_settings": consumerSettings,
  "003_message_log": messageLog,
  "004_events": events,
  "005_lease_as_due_time": leaseAsDueTime,
  "006_unrecorded_claims": unrecordedClaims,
  "007_retention_indexes": retentionIndexes,
  "008_job_runs": jobRuns,
  "009_circuit_breaker": circuitBreaker,
  "010_fifo_ordering": fifoOrdering,
  "011_message_retention": messageRetention,
  "012_oauth_and_profiles": oauthAndProfiles,
  "013_portal": portal,
  "014_transformations": transformations,
  "015_connection_insight": connectionInsight,
  "016_server_settings": serverSettings,
  "019_credentials_and_operator_tokens": credentialsAndOperatorTokens,
  "020_legacy_migration": legacyMigration,
  "022_link_step_bounds": linkStepBounds,
  "023_activity_hours": activityHours,
  "024_listen_streams": listenStreams,
  "025_parked_reasons_and_company_lines": parkedReasonsAndCompanyLines,
  "026_insight_rollups": insightRollups,
  "027_ordered_lines_wait": orderedLinesWait,
  "028_consumer_slow_concurrency": consumerSlowConcurrency,
};

/** Applies or reports on these migrations in `db`. */
export const migratorOf = (db: Db): Migrator => new Migrator({ db, provider: { getMigrations: async () => migrations } });
