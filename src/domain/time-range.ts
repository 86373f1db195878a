import { badRequest } from "../errors.ts";

export interface TimeRangeInput {
  since?: string | undefined;
  until?: string | undefined;
}

/** Epoch milliseconds: `since` inclusive, `until` exclusive, either open. */
export interface TimeRange {
  since: number | undefined;
  until: number | undefined;
}

// A date (midnight UTC) or a date-time with its offset: a time without one would depend on the server's time zone.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/i;

function instant(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = ISO_8601.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) {
    const message = `${name} must be an ISO 8601 date or date-time with an offset, such as 2024-05-01 or 2024-05-01T12:00:00Z; got "${text}"`;
    throw badRequest(message, [{ itemId: name, message, validatorName: "format" }]);
  }
  return ms;
}

export function parseTimeRange(input: TimeRangeInput): TimeRange {
  const range = { since: instant("since", input.since), until: instant("until", input.until) };
  if (range.since !== undefined && range.until !== undefined && range.since >= range.until) {
    const message = "until must be later than since";
    throw badRequest(message, [{ itemId: "until", message, validatorName: "range" }]);
  }
  return range;
}
