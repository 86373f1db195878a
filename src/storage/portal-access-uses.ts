import type { ClientId } from "../ids.ts";
import type { Store } from "./database.ts";

/**
 * Records the use of an access link, in one statement so that of two uses at
 * the same time exactly one wins. Returns false when the link was used
 * before. Uses whose link has expired are no longer needed (an expired link
 * is refused before it gets here) and go at the same time.
 */
export async function recordAccessUse(store: Store, use: { id: string; clientId: ClientId; expiresAt: number }, now: number): Promise<boolean> {
  return store.writeStatement(async (db) => {
    await db.deleteFrom("portal_access_uses").where("expires_at", "<", now).execute();
    const inserted = await db
      .insertInto("portal_access_uses")
      .values({ id: use.id, client_id: use.clientId, expires_at: use.expiresAt })
      .onConflict((conflict) => conflict.column("id").doNothing())
      .returning("id")
      .executeTakeFirst();
    return inserted !== undefined;
  });
}
