import type { SelectQueryBuilder } from "kysely";
import type { components } from "../generated/codat.d.ts";
import type { Database } from "../storage/schema.ts";

export type PagingInfo = components["schemas"]["PagingInfo"];

export interface PageRequest {
  page: number;
  pageSize: number;
  query?: string | undefined;
  orderBy?: string | undefined;
}

/** Codat's paging envelope around one page of `results`. */
export function pageEnvelope<T>(path: string, request: PageRequest, results: T[], totalResults: number): { results: T[] } & PagingInfo {
  const href = (page: number) => {
    const params = new URLSearchParams({ page: String(page), pageSize: String(request.pageSize) });
    if (request.query) params.set("query", request.query);
    if (request.orderBy) params.set("orderBy", request.orderBy);
    return { href: `${path}?${params}` };
  };
  const links: PagingInfo["_links"] = { self: { href: path }, current: href(request.page) };
  if (request.page * request.pageSize < totalResults) links.next = href(request.page + 1);
  if (request.page > 1) links.previous = href(request.page - 1);
  return { results, pageNumber: request.page, pageSize: request.pageSize, totalResults, _links: links };
}

/** Runs a count and one page of a filtered query; `select` turns the filtered rows into what the page holds. */
export async function fetchPage<TB extends keyof Database, O>(
  filtered: SelectQueryBuilder<Database, TB, object>,
  request: PageRequest,
  select: (query: SelectQueryBuilder<Database, TB, object>) => SelectQueryBuilder<Database, TB, O>,
): Promise<{ rows: O[]; total: number }> {
  const { total } = await filtered.select((eb) => eb.fn.countAll<number>().as("total")).executeTakeFirstOrThrow();
  const rows = await select(filtered)
    .limit(request.pageSize)
    .offset((request.page - 1) * request.pageSize)
    .execute();
  return { rows, total: Number(total) };
}
