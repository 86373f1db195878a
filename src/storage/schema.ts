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
}

export interface ClientsTable {
  id: string;
  name: string;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  client_id: string;
  name: string | null;
  key_hash: string;
  key_hint: string;
  created_at: number;
}

export interface CompaniesTable {
  id: string;
  client_id: string;
  name: string;
  description: string | null;
  created_at: number;
}

export interface CompanyTagsTable {
  company_id: string;
  client_id: string;
  key: string;
  value: string;
}

export interface ConnectionsTable {
  id: string;
  client_id: string;
  company_id: string;
  integration_key: string;
  status: "PendingAuth" | "Linked" | "Unlinked" | "Deauthorized";
  created_at: number;
  last_sync_at: number | null;
}

export interface ConnectionErrorsTable {
  id: string;
  client_id: string;
  connection_id: string;
  status_code: string;
  status_text: string;
  error_message: string;
  errored_at: number;
  status: "Active" | "Resolved";
  resolved_at: number | null;
}

export interface ConsumersTable {
  id: string;
  client_id: string;
  url: string;
  /** JSON array of event types. */
  event_types: string;
  /** JSON array of "key:value" tags, or null for every company. */
  company_tags: string | null;
  disabled: number;
  signing_secret: string;
  created_at: number;
}

export interface MessagesTable {
  id: string;
  client_id: string;
  event_type: string;
  company_id: string | null;
  /** The event JSON exactly as signed and sent. */
  body: string;
  created_at: number;
}

export type DeliveryStatus = "Sending" | "Attempting" | "Success" | "Failure";

export interface DeliveriesTable {
  id: string;
  client_id: string;
  message_id: string;
  consumer_id: string;
  status: DeliveryStatus;
  /** Attempts made or skipped (while the consumer was disabled) so far. */
  attempt_count: number;
  /** When the next attempt is due; null once the delivery is final. */
  next_attempt_at: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface AttemptsTable {
  id: string;
  client_id: string;
  delivery_id: string;
  message_id: string;
  consumer_id: string;
  attempt_number: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  response_excerpt: string | null;
  error: string | null;
  succeeded: number;
}
