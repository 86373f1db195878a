import type { ClientId } from "../ids.ts";
import type { Db } from "./database.ts";
import type { ClientProfilesTable } from "./schema.ts";

/** A client's profile as stored, its URL list decoded; undefined until the client sets one. */
export type ClientProfileRow = Omit<ClientProfilesTable, "white_list_urls"> & { white_list_urls: string[] };

export async function findClientProfile(db: Db, clientId: ClientId): Promise<ClientProfileRow | undefined> {
  const row = await db.selectFrom("client_profiles").selectAll().where("client_id", "=", clientId).executeTakeFirst();
  return row && { ...row, white_list_urls: JSON.parse(row.white_list_urls) as string[] };
}

/** Sets a client's profile, replacing the one it had. */
export async function putClientProfile(db: Db, row: ClientProfileRow): Promise<void> {
  const stored = { ...row, white_list_urls: JSON.stringify(row.white_list_urls) };
  const { name, logo_url, icon_url, redirect_url, white_list_urls, alert_auth_header, updated_at } = stored;
  await db
    .insertInto("client_profiles")
    .values(stored)
    .onConflict((conflict) =>
      conflict.column("client_id").doUpdateSet({ name, logo_url, icon_url, redirect_url, white_list_urls, alert_auth_header, updated_at }),
    )
    .execute();
}
