/**
 * The limits of what the API accepts, defined once for the domain's checks
 * and the OpenAPI document's schemas, so that the two cannot disagree.
 */

/** Results per page of a cursor-paged list: when the request names none, and the most it may ask for. */
export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 250;

/** Events in one batch publish. */
export const MAX_BATCH_EVENTS = 1000;

/** An Idempotency-Key is 1 to this many visible ASCII characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** A webhook consumer's rate limit, in messages per second (1 at least; null is unlimited). */
export const MAX_CONSUMER_RATE_LIMIT = 10_000;
/**
 * Characters of a destination URL (a consumer's, a migration's test URL): about what browsers,
 * proxies and receivers' own servers accept; it is stored with every consumer and read by every
 * send, so its size is bounded like any other field's.
 */
export const MAX_DESTINATION_URL_LENGTH = 2048;
/**
 * `hookline listen` streams one client may have open at once in a process: each holds a
 * connection, a wake-up subscription and a loop, and a developer runs one or a few.
 */
export const MAX_LISTEN_STREAMS_PER_CLIENT = 10;
/** Characters of a webhook consumer's description. */
export const MAX_CONSUMER_DESCRIPTION_LENGTH = 500;

/** The most deliveries of each side a migration's comparison report reads: past it the report says it is truncated (a shorter window reads all). */
export const MAX_MIGRATION_REPORT_DELIVERIES = 20_000;

/** How many examples of each kind (matched, legacy-only, new-only) a migration's comparison report shows. */
export const MIGRATION_REPORT_EXAMPLES = 5;

/** A consumer's company tag filter is `key:value`, a key of 1 to this many characters (no colon)... */
export const MAX_TAG_KEY_LENGTH = 27;
/** ...and a value of up to this many. */
export const MAX_TAG_VALUE_LENGTH = 100;

/** Custom headers a webhook consumer may have sent with every attempt. */
export const MAX_CUSTOM_HEADERS = 20;

/**
 * Headers a consumer may not set: the Standard Webhooks signature headers and
 * the content type, which receivers rely on, and the ones that frame the HTTP
 * message. The sender drops them too, whatever is stored.
 */
export const RESERVED_HEADER_NAMES: ReadonlySet<string> = new Set([
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
  "content-type",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "host",
  "te",
  "trailer",
  "expect",
  "proxy-connection",
]);

/** Characters of a consumer's transformation code. */
export const MAX_TRANSFORMATION_CODE_LENGTH = 64 * 1024;

/**
 * Transformation test runs one client may have running or waiting at once in
 * a process: the runs share one engine, one at a time, so a client queueing
 * many would hold every other client's tests behind its own.
 */
export const MAX_TRANSFORMATION_TESTS_PER_CLIENT = 2;

/**
 * Bytes of the body a transformation may make. A batch's bodies are bounded in bytes when it is claimed
 * (HOOKLINE_WORKER_BODY_BUDGET_BYTES); this bounds what transformations can add to them.
 */
export const MAX_TRANSFORMED_BODY_BYTES = 256 * 1024;
/** Connections one attention list answers at most. */
export const MAX_ATTENTION_LIMIT = 500;
/** Connection insight alert rules one client may have. */
export const MAX_ALERT_RULES = 50;
