import type { OperatorTokenId } from "../ids.ts";
import type { Db } from "./database.ts";
import type { OperatorTokensTable } from "./schema.ts";

export async function insertOperatorToken(db: Db, row: OperatorTokensTable): Promise<void> {
  await db.insertInto("operator_tokens").values(row).execute();
}

/** The token with this hash; undefined for an unknown one. */
export function findOperatorTokenByHash(db: Db, tokenHash: string): Promise<Pick<OperatorTokensTable, "id" | "name"> | undefined> {
  return db.selectFrom("operator_tokens").select(["id", "name"]).where("token_hash", "=", tokenHash).executeTakeFirst();
}

/** Every token, oldest first; never the hashes. */
export function listOperatorTokens(db: Db): Promise<Array<Pick<OperatorTokensTable, "id" | "name" | "created_at">>> {
  return db.selectFrom("operator_tokens").select(["id", "name", "created_at"]).orderBy("created_at").orderBy("id").execute();
}

/** Whether a token with this id was there to delete. */
export async function deleteOperatorToken(db: Db, id: OperatorTokenId): Promise<boolean> {
  const result = await db.deleteFrom("operator_tokens").where("id", "=", id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
