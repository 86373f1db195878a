import type { ConnectionId } from "../ids.ts";
import type { Db, Tx } from "./database.ts";
import type { ConnectionErrorsTable } from "./schema.ts";

export async function insertConnectionError(tx: Tx, row: ConnectionErrorsTable): Promise<void> {
  await tx.insertInto("connection_errors").values(row).execute();
}

/** The errors of these connections, oldest first. */
export function listConnectionErrors(db: Db, connectionIds: readonly ConnectionId[]): Promise<ConnectionErrorsTable[]> {
  if (connectionIds.length === 0) return Promise.resolve([]);
  return db.selectFrom("connection_errors").selectAll().where("connection_id", "in", connectionIds).orderBy("errored_at").orderBy("id").execute();
}

/** Marks a connection's active errors resolved at `at`. */
export async function resolveConnectionErrors(tx: Tx, connectionId: ConnectionId, at: number): Promise<void> {
  await tx
    .updateTable("connection_errors")
    .set({ status: "Resolved", resolved_at: at })
    .where("connection_id", "=", connectionId)
    .where("status", "=", "Active")
    .execute();
}
