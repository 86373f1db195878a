import type { Expression, ExpressionBuilder, SqlBool } from "kysely";
import { compare, whereFilter, type Filter } from "./query-filter.ts";
import type { Database } from "./schema.ts";

/** The WHERE expression of a company list's filter: keys `id` and `name` address the company, any other key a tag. */
export function companyFilter(filter: Filter): ((eb: ExpressionBuilder<Database, "companies">) => Expression<SqlBool>) | undefined {
  return whereFilter<Database, "companies", string>(filter, (eb, { key, operator, value }) => {
    if (key === "id" || key === "name") return compare(eb, `companies.${key}`, operator, value);
    // "!=" means the company does not carry that value (an untagged company qualifies), as in Codat.
    const tagged = (op: typeof operator) =>
      eb.exists(
        eb
          .selectFrom("company_tags")
          .select("company_tags.key")
          .whereRef("company_tags.company_id", "=", "companies.id")
          .where("company_tags.key", "=", key)
          .where((inner) => compare(inner, "company_tags.value", op, value)),
      );
    return operator === "!=" ? eb.not(tagged("=")) : tagged(operator);
  });
}
