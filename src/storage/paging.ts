import type { SelectQueryBuilder } from "kysely";
import type { Database } from "./schema.ts";

/** Which page of a list to read, counted from 1. */
export interface PageSlice {
  page: number;
  pageSize: number;
}

/** Runs a count and one page of a filtered query; `select` turns the filtered rows into what the page holds. */
export async function fetchPage<TB extends keyof Database, O>(
  filtered: SelectQueryBuilder<Database, TB, object>,
  slice: PageSlice,
  select: (query: SelectQueryBuilder<Database, TB, object>) => SelectQueryBuilder<Database, TB, O>,
): Promise<{ rows: O[]; total: number }> {
  const { total } = await filtered.select((eb) => eb.fn.countAll<number>().as("total")).executeTakeFirstOrThrow();
  const rows = await select(filtered)
    .limit(slice.pageSize)
    .offset((slice.page - 1) * slice.pageSize)
    .execute();
  return { rows, total: Number(total) };
}
