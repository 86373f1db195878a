import type { Generated } from "kysely";
import type { ConnectionErrorStatus, ConnectionStatus, ConsumerOrdering, DeliveryStatus } from "../constants/statuses.ts";
import type {
  ApiKeyId,
  AttemptId,
  ClientId,
  CompanyId,
  ConnectionErrorId,
  ConnectionId,
  ConsumerId,
  DeliveryId,
  HistoryEntryId,
  InsightAlertId,
  MessageId,
  OperatorTokenId,
} from "../ids.ts";

/**
 * Row types of every table, as Kysely sees them. Timestamps are epoch
 * milliseconds and booleans are 0/1 so both dialects store them alike; JSON
 * values are text written and read in one place each.
 */
export interface Database {
  clients: ClientsTable;
  api_keys: ApiKeysTable;
  companies: CompaniesTable;
  company_tags: CompanyTagsTable;
  connections: ConnectionsTable;
  connection_errors: ConnectionErrorsTable;
  consumers: ConsumersTable;
  messages: MessagesTable;
  deliveries: DeliveriesTable;
  attempts: AttemptsTable;
  delivery_restarts: DeliveryRestartsTable;
  idempotency_keys: IdempotencyKeysTable;
  api_usage: ApiUsageTable;
  job_runs: JobRunsTable;
  portal_access_uses: PortalAccessUsesTable;
  activity_hours: ActivityHoursTable;
  link_funnels: LinkFunnelsTable;
  link_steps: LinkStepsTable;
  link_rollups: LinkRollupsTable;
  link_rollup_times: LinkRollupTimesTable;
  link_rollup_errors: LinkRollupErrorsTable;
  insight_alert_rules: InsightAlertRulesTable;
  insight_alert_episodes: InsightAlertEpisodesTable;
  link_attempts: LinkAttemptsTable;
  client_profiles: ClientProfilesTable;
  connection_tokens: ConnectionTokensTable;
  connection_credentials: ConnectionCredentialsTable;
  operator_tokens: OperatorTokensTable;
  server_settings: ServerSettingsTable;
  consumer_history: ConsumerHistoryTable;
}

/** What a client set with PUT /profile. */
export interface ClientProfilesTable {
  client_id: ClientId;
  name: string;
  logo_url: string | null;
  icon_url: string | null;
  redirect_url: string;
  /** JSON array of URLs. */
  white_list_urls: string;
  /** Sealed (alert-auth-header). */
  alert_auth_header: string | null;
  updated_at: number;
}

/** One trip of a customer to an OAuth provider's sign-in, until its callback uses it (once) or it expires. */
export interface LinkAttemptsTable {
  state_digest: string;
  client_id: ClientId;
  company_id: CompanyId;
  connection_id: ConnectionId;
  /** Sealed (pkce-verifier, bound to the state digest). */
  code_verifier: string;
  /** The link URL's query string, for the custom placeholders of the client's redirectUrl. */
  link_query: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** A linked connection's access at its provider; both tokens sealed, bound to the connection. */
/** A token the operator's data engine signs in to the operator API with; only its hash is kept. */
export interface OperatorTokensTable {
  id: OperatorTokenId;
  name: string;
  token_hash: string;
  created_at: number;
}

/** The credentials a connection was linked with: a JSON object of the integration's fields, sealed. */
export interface ConnectionCredentialsTable {
  connection_id: ConnectionId;
  client_id: ClientId;
  credentials: string;
  updated_at: number;
}

export interface ConnectionTokensTable {
  connection_id: ConnectionId;
  client_id: ClientId;
  access_token: string;
  refresh_token: string | null;
  expires_at: number | null;
  refresh_failing_since: number | null;
  next_refresh_at: number | null;
  updated_at: number;
}

export interface ClientsTable {
  id: ClientId;
  name: string;
  created_at: number;
}

export interface ApiKeysTable {
  id: ApiKeyId;
  client_id: ClientId;
  name: string | null;
  key_hash: string;
  key_hint: string;
  created_at: number;
}

export interface CompaniesTable {
  id: CompanyId;
  client_id: ClientId;
  name: string;
  description: string | null;
  created_at: number;
}

export interface CompanyTagsTable {
  company_id: CompanyId;
  client_id: ClientId;
  key: string;
  value: string;
}

export interface ConnectionsTable {
  id: ConnectionId;
  client_id: ClientId;
  company_id: CompanyId;
  integration_key: string;
  status: ConnectionStatus;
  created_at: number;
  last_sync_at: number | null;
  /** The key in the connection's link URL since its latest link reminder; null (no key) before any. */
  link_key: string | null;
}

export interface ConnectionErrorsTable {
  id: ConnectionErrorId;
  client_id: ClientId;
  connection_id: ConnectionId;
  status_code: string;
  status_text: string;
  error_message: string;
  errored_at: number;
  status: ConnectionErrorStatus;
  resolved_at: number | null;
}

export interface ConsumersTable {
  id: ConsumerId;
  client_id: ClientId;
  url: string;
  /** JSON array of event types. */
  event_types: string;
  /** JSON array of "key:value" tags, or null for every company. */
  company_tags: string | null;
  disabled: number;
  /** The Standard Webhooks secret, sealed by SecretBox for the consumer (plaintext when written by a release before encryption at rest). */
  signing_secret: string;
  created_at: number;
  description: string | null;
  /** Messages per second; null is unlimited. */
  rate_limit: number | null;
  /** While the consumer is slow, the most attempts a worker keeps in flight to it; null: the deployment's default. */
  slow_concurrency: Generated<number | null>;
  /** The next free send slot of a rate-limited consumer, shared by every worker. */
  rate_next_at: number | null;
  /** JSON array of PreviousSecret, sealed: rotated-out signing secrets that sign until they expire. */
  previous_secrets: string | null;
  /** JSON object of custom header names and values sent with every attempt, sealed. */
  custom_headers: string | null;
  /** PEM client certificate (chain) presented for mTLS. */
  mtls_certificate: string | null;
  /** The PEM private key of the client certificate, sealed by SecretBox for the consumer. */
  mtls_private_key: string | null;
  /** When the first failed attempt since the last success was recorded; null while the consumer succeeds. */
  failing_since: number | null;
  /** Attempts in a row that found the consumer unreachable (no answer, or a 5xx): what opens its circuit. */
  consecutive_failures: Generated<number>;
  /** While the consumer's circuit is open: when a probe may go (its deliveries wait parked until one succeeds); null while closed. */
  circuit_open_until: number | null;
  /** `fifo`: one delivery at a time, in event order; `unordered`: concurrently. */
  ordering: Generated<ConsumerOrdering>;
  /** JavaScript defining `function handler(webhook)`, run on each delivery while enabled; null without a transformation. */
  transformation_code: Generated<string | null>;
  transformation_enabled: Generated<number>;
  /** Counts the saves of the code: compiled code is cached by consumer and version. */
  transformation_version: Generated<number>;
  /** A listen consumer's: when a stream of it was last open (or it was made); the sweep removes it HOOKLINE_LISTEN_GRACE after. Null for the others. */
  listen_seen_at: number | null;
  /** A listen consumer's newest stream (its owner of the deliveries it holds): the only one that takes its deliveries. */
  listen_stream: string | null;
  /** 1 while the consumer is a replacement in shadow mode: its deliveries are recorded, never sent to its URL. */
  shadow: Generated<number>;
  /** Where a shadow consumer's deliveries are sent instead; null: they are recorded without a request. */
  shadow_test_url: Generated<string | null>;
  /** The legacy rule consumer this one replaces (its migration); null for others. Kept once that one is deleted. */
  replaces_id: Generated<ConsumerId | null>;
}

export interface PreviousSecret {
  key: string;
  expiresAt: number;
}

export interface MessagesTable {
  id: MessageId;
  client_id: ClientId;
  event_type: string;
  company_id: CompanyId | null;
  /** The event JSON exactly as signed and sent; empty once the retention job purged it. */
  body: string;
  created_at: number;
  /** When the retention job purged the body; null while it is held. */
  payload_purged_at: number | null;
  /** 1 for an example event sent to one consumer on request. */
  example: number;
  /** A legacy alert's source: the event it was rendered from; null for events. */
  source_message_id: MessageId | null;
}

export type { ConsumerOrdering, DeliveryStatus };

/**
 * Why a delivery waits parked: its consumer's open `circuit` (released when it
 * closes), its `line` (behind the head of a `fifo` line, released when the
 * head ends), a `slot` of a slow consumer (released as its attempts end), or
 * a `listen` consumer's stream (taken by the CLI's stream, never a worker).
 */
export type ParkedReason = "circuit" | "line" | "slot" | "listen";

export interface DeliveriesTable {
  id: DeliveryId;
  client_id: ClientId;
  message_id: MessageId;
  consumer_id: ConsumerId;
  status: DeliveryStatus;
  /** Attempts made or skipped (while the consumer was disabled) so far. */
  attempt_count: number;
  /** When the next attempt is due, or while leased when the lease runs out; null once the delivery is final. */
  next_attempt_at: number | null;
  /** The lease a worker holds while it sends the delivery; null when none does. */
  lease_owner: string | null;
  created_at: number;
  updated_at: number;
  /** The send slot a delivery to a rate-limited consumer holds while it waits for it. */
  rate_slot_at: number | null;
  /**
   * Claims since an outcome (or a hand-back) was last recorded: 1 while a claim is in flight, more when
   * earlier claims ended with their worker, each of which counts as a failed attempt.
   */
  unrecorded_claims: Generated<number>;
  /** Why the delivery waits parked (due at PARKED_AT), for the release that is its own to find it; null while not parked. */
  parked_reason: Generated<ParkedReason | null>;
  /** The company of its message, for a consumer ordered by company (its line); null for an event without a company. */
  company_id: Generated<CompanyId | null>;
}

export interface AttemptsTable {
  id: AttemptId;
  client_id: ClientId;
  delivery_id: DeliveryId;
  message_id: MessageId;
  consumer_id: ConsumerId;
  attempt_number: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  response_excerpt: string | null;
  error: string | null;
  succeeded: number;
}

export interface IdempotencyKeysTable {
  client_id: ClientId;
  key: string;
  /** SHA-256 of the request the key was first used with. */
  request_hash: string;
  /** The JSON answered to that request; null only inside the transaction that records it. */
  response: string | null;
  created_at: number;
}

export interface ApiUsageTable {
  client_id: ClientId;
  window_start: number;
  window_end: number;
  request_count: number;
  /** 1 once client.rateLimit.reached was recorded for this window. */
  reached: number;
}

/** The claim of a periodic job's runs, shared by every process on the database. */
export interface JobRunsTable {
  name: string;
  /**
   * No process starts a run before this time: while a run goes on, when its
   * lease ends; after it, when the next run is due.
   */
  due_at: number;
  /** The process that claimed the latest run. */
  owner: string;
  claimed_at: number;
}

/** A resend or recovery that restarted an existing delivery's attempt schedule. */
export interface DeliveryRestartsTable {
  id: string;
  client_id: ClientId;
  delivery_id: DeliveryId;
  reason: "resend" | "recover";
  restarted_at: number;
}

/** A portal access link that was used, kept until it expires so that it opens the portal once. */
export interface PortalAccessUsesTable {
  id: string;
  client_id: ClientId;
  expires_at: number;
}

/** A consumer's attempts started in one hour (`hour_start`, a multiple of an hour), kept as they are recorded for the activity charts. */
export interface ActivityHoursTable {
  client_id: ClientId;
  hour_start: number;
  consumer_id: ConsumerId;
  succeeded: number;
  failed: number;
}

/** A step of a connection's link journey. */
export type LinkStep =
  "created" | "opened" | "chosen" | "redirected" | "returned" | "linked" | "failed" | "disconnected" | "deauthorized" | "reconnected" | "reminded";

/** One connection's link journey: when it first reached each step, and the latest of those that recur. */
export interface LinkFunnelsTable {
  connection_id: ConnectionId;
  client_id: ClientId;
  company_id: CompanyId;
  integration_key: string;
  created_at: number;
  opened_at: number | null;
  chosen_at: number | null;
  redirected_at: number | null;
  returned_at: number | null;
  linked_at: number | null;
  /** The latest failure, with its error below. */
  failed_at: number | null;
  failures: Generated<number>;
  error_status_code: string | null;
  error_status_text: string | null;
  error_message: string | null;
  disconnected_at: number | null;
  deauthorized_at: number | null;
  reconnected_at: number | null;
  reminded_at: number | null;
}

/** Each step of each journey as it happened. */
export interface LinkStepsTable {
  id: string;
  client_id: ClientId;
  connection_id: ConnectionId;
  integration_key: string;
  step: LinkStep;
  at: number;
  status_code: string | null;
  status_text: string | null;
  error_message: string | null;
}

/**
 * The journeys that started in one UTC day or hour (`span` ms long from `start`) of one integration, whose latest
 * error is `error_status_code` ('' for none): how many reached each figure, kept as steps are recorded. `stopped_*`
 * are those neither linked nor failed, opened, by the furthest step they reached (abandoned once opened long enough ago).
 */
export interface LinkRollupsTable {
  client_id: ClientId;
  span: number;
  start: number;
  integration_key: string;
  error_status_code: string;
  created: number;
  opened: number;
  linked: number;
  failed: number;
  deauthorized: number;
  reconnected: number;
  stopped_opened: number;
  stopped_chosen: number;
  stopped_redirected: number;
  stopped_returned: number;
}

/** How many of a day's or hour's group (as in link_rollups) linked within each time-to-link bucket (storage/link-funnels.ts). */
export interface LinkRollupTimesTable {
  client_id: ClientId;
  span: number;
  start: number;
  integration_key: string;
  error_status_code: string;
  bucket: number;
  linked: number;
}

/** The failures of a day's or hour's group (as in link_rollups), per error: how many, and the latest. */
export interface LinkRollupErrorsTable {
  client_id: ClientId;
  span: number;
  start: number;
  integration_key: string;
  error_status_code: string;
  status_code: string;
  status_text: string;
  failures: number;
  last_seen: number;
}

export interface InsightAlertRulesTable {
  id: InsightAlertId;
  client_id: ClientId;
  /** The rule as JSON (storage/insight-alerts.ts encodes and decodes it). */
  rule: string;
  created_at: number;
}

/** An alert rule that holds for a subject (an integration key, or "*"), from when it started to hold. */
export interface InsightAlertEpisodesTable {
  rule_id: InsightAlertId;
  subject: string;
  client_id: ClientId;
  started_at: number;
}

/** What a running server tells the other processes on its database (the CLI), one row per setting. */
export interface ServerSettingsTable {
  name: string;
  value: string;
  updated_at: number;
}

/** One step in a consumer's history (the steps of a legacy migration), with what it concerned as JSON. */
export interface ConsumerHistoryTable {
  id: HistoryEntryId;
  client_id: ClientId;
  consumer_id: ConsumerId;
  at: number;
  action: string;
  detail: string;
}
