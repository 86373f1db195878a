import type { ConnectionId } from "../ids.ts";
import type { Db, Tx } from "./database.ts";
import type { ConnectionCredentialsTable } from "./schema.ts";

export type ConnectionCredentialsRow = ConnectionCredentialsTable;

/** Stores the credentials a connection was linked with, replacing those of an earlier link. */
export async function upsertConnectionCredentials(tx: Tx, row: ConnectionCredentialsRow): Promise<void> {
  await tx
    .insertInto("connection_credentials")
    .values(row)
    .onConflict((conflict) => conflict.column("connection_id").doUpdateSet({ credentials: row.credentials, updated_at: row.updated_at }))
    .execute();
}

export function findConnectionCredentials(db: Db, connectionId: ConnectionId): Promise<ConnectionCredentialsRow | undefined> {
  return db.selectFrom("connection_credentials").selectAll().where("connection_id", "=", connectionId).executeTakeFirst();
}

/** Forgets a connection's credentials: it was unlinked or deauthorized. */
export async function deleteConnectionCredentials(tx: Tx, connectionId: ConnectionId): Promise<void> {
  await tx.deleteFrom("connection_credentials").where("connection_id", "=", connectionId).execute();
}
