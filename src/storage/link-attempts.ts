import type { Db, Tx } from "./database.ts";
import type { LinkAttemptsTable } from "./schema.ts";

export type LinkAttemptRow = LinkAttemptsTable;

export async function insertLinkAttempt(db: Db, row: LinkAttemptRow): Promise<void> {
  await db.insertInto("link_attempts").values(row).execute();
}

export function findLinkAttempt(db: Db, stateDigest: string): Promise<LinkAttemptRow | undefined> {
  return db.selectFrom("link_attempts").selectAll().where("state_digest", "=", stateDigest).executeTakeFirst();
}

/** Marks the attempt used, once: false when a concurrent callback used it first, so each state links at most once. */
export async function useLinkAttempt(tx: Tx, stateDigest: string, at: number): Promise<boolean> {
  const result = await tx
    .updateTable("link_attempts")
    .set({ used_at: at })
    .where("state_digest", "=", stateDigest)
    .where("used_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Deletes attempts that expired before `before`: a used or abandoned state is kept only as long as it could be replayed. */
export async function deleteExpiredLinkAttempts(db: Db, before: number): Promise<number> {
  const result = await db.deleteFrom("link_attempts").where("expires_at", "<", before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
