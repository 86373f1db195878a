import type { ClientId } from "../ids.ts";
import type { Db } from "./database.ts";
import type { ClientsTable } from "./schema.ts";

/** A client (tenant) as the CLI and the API's authentication see it. */
export type Client = Pick<ClientsTable, "id" | "name">;

export async function insertClient(db: Db, client: ClientsTable): Promise<void> {
  await db.insertInto("clients").values(client).execute();
}

/** Every client, oldest first. */
export function listClients(db: Db): Promise<Client[]> {
  return db.selectFrom("clients").select(["id", "name"]).orderBy("created_at").execute();
}

export function findClient(db: Db, clientId: ClientId): Promise<Client | undefined> {
  return db.selectFrom("clients").select(["id", "name"]).where("id", "=", clientId).executeTakeFirst();
}
