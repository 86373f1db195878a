import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from "../constants/limits.ts";
import { badRequest } from "../errors.ts";

/**
 * Cursor paging for the message log. Lists are ordered newest first on
 * (time, id) and a cursor is the position of the last row served, so a page
 * continues exactly after it: rows inserted meanwhile (newer, so above it)
 * neither shift nor repeat what follows, unlike page-number paging.
 */
export interface CursorPage<T> {
  results: T[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
  hasMore: boolean;
}

export interface CursorRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

/** Where a page ends: the (time, id) of its last row. */
export interface Position {
  at: number;
  id: string;
}

const invalid = (itemId: string, message: string) => badRequest(message, [{ itemId, message, validatorName: itemId }]);

/** The page size asked for, and the position to continue after (none for the first page). */
export function readCursorRequest(request: CursorRequest): { limit: number; after: Position | undefined } {
  const limit = request.limit ?? DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) throw invalid("limit", `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
  return { limit, after: request.cursor === undefined ? undefined : decodeCursor(request.cursor) };
}

function decodeCursor(cursor: string): Position {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    if (Number.isSafeInteger(at) && typeof id === "string" && id.length > 0) return { at: at as number, id };
  } catch {
    // Reported below like any other cursor Hookline did not make.
  }
  throw invalid("cursor", "cursor is not valid: pass the nextCursor of a previous page unchanged");
}

const encodeCursor = (position: Position) => Buffer.from(JSON.stringify([position.at, position.id])).toString("base64url");

/** Turns up to `limit + 1` rows (the extra one only tells whether more follow) into a page. */
export function cursorPage<Row, T>(rows: Row[], limit: number, position: (row: Row) => Position, toResult: (row: Row) => T): CursorPage<T> {
  const page = rows.slice(0, limit);
  const hasMore = rows.length > limit;
  return { results: page.map(toResult), nextCursor: hasMore ? encodeCursor(position(page[page.length - 1]!)) : null, hasMore };
}
