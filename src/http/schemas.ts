import { codatParameter as parameter, codatRef, type JsonSchema } from "../openapi/codat.ts";
import type { PageRequest } from "../domain/paging.ts";

/** Route schemas point into the Codat document, so requests are validated against the contract itself. */
export { pathParams } from "../openapi/codat.ts";

export const pagingQuery: JsonSchema = {
  type: "object",
  properties: {
    page: parameter("page"),
    pageSize: parameter("pageSize"),
    query: parameter("query"),
    orderBy: parameter("orderBy"),
  },
};

export interface PagingQuerystring {
  page?: number;
  pageSize?: number;
  query?: string;
  orderBy?: string;
}

export const pageRequest = (query: PagingQuerystring): PageRequest => ({
  page: query.page ?? 1,
  pageSize: query.pageSize ?? 100,
  query: query.query,
  orderBy: query.orderBy,
});

export const requestBody = (pointer: string): JsonSchema => codatRef(pointer);
