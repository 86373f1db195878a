import type { Db } from "./database.ts";
import type { OperatorTokensTable } from "./schema.ts";

export async function insertOperatorToken(db: Db, row: OperatorTokensTable): Promise<void> {
  await db.insertInto("operator_tokens").values(row).execute();
}

/** The token with this hash; undefined for an unknown one. */
export function findOperatorTokenByHash(db: Db, tokenHash: string): Promise<Pick<OperatorTokensTable, "id" | "name"> | undefined> {
  return db.selectFrom("operator_tokens").select(["id", "name"]).where("token_hash", "=", tokenHash).executeTakeFirst();
}
