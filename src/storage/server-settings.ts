import type { Db, Store } from "./database.ts";

/** The public URL the last API process to start serves at. */
const PUBLIC_URL = "public_url";

/** Records the public URL an API process serves at, replacing what an earlier start recorded. */
export async function recordPublicUrl(store: Store, publicUrl: string, now: number): Promise<void> {
  await store.writeStatement((db) =>
    db
      .insertInto("server_settings")
      .values({ name: PUBLIC_URL, value: publicUrl, updated_at: now })
      .onConflict((conflict) => conflict.column("name").doUpdateSet({ value: publicUrl, updated_at: now }))
      .execute(),
  );
}

/** The public URL an API process on this database serves at, if one ever started. */
export async function readPublicUrl(db: Db): Promise<string | undefined> {
  const row = await db.selectFrom("server_settings").select("value").where("name", "=", PUBLIC_URL).executeTakeFirst();
  return row?.value;
}
