import type { components } from "../generated/codat.d.ts";
import type { PageSlice } from "../storage/paging.ts";

export type PagingInfo = components["schemas"]["PagingInfo"];

/** A page of a list as the API asks for it: which page, and the list's query and order. */
export interface PageRequest extends PageSlice {
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
