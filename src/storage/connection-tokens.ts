import type { CompanyId, ConnectionId } from "../ids.ts";
import type { Db, Tx } from "./database.ts";
import type { ConnectionTokensTable } from "./schema.ts";

export type ConnectionTokensRow = ConnectionTokensTable;

/** Stores a connection's tokens, replacing what it held (a relink replaces the old grant). */
export async function upsertConnectionTokens(tx: Tx, row: ConnectionTokensRow): Promise<void> {
  await tx
    .insertInto("connection_tokens")
    .values(row)
    .onConflict((conflict) =>
      conflict.column("connection_id").doUpdateSet({
        access_token: row.access_token,
        refresh_token: row.refresh_token,
        expires_at: row.expires_at,
        refresh_failing_since: row.refresh_failing_since,
        next_refresh_at: row.next_refresh_at,
        updated_at: row.updated_at,
      }),
    )
    .execute();
}

export function findConnectionTokens(db: Db, connectionId: ConnectionId): Promise<ConnectionTokensRow | undefined> {
  return db.selectFrom("connection_tokens").selectAll().where("connection_id", "=", connectionId).executeTakeFirst();
}

/** Tokens of Linked connections due a refresh by `now`, soonest first, with each connection's company and integration. */
export function tokensDueForRefresh(
  db: Db,
  now: number,
  limit: number,
): Promise<Array<ConnectionTokensRow & { company_id: CompanyId; integration_key: string }>> {
  return db
    .selectFrom("connection_tokens")
    .innerJoin("connections", "connections.id", "connection_tokens.connection_id")
    .selectAll("connection_tokens")
    .select(["connections.company_id", "connections.integration_key"])
    .where("connections.status", "=", "Linked")
    .where("connection_tokens.refresh_token", "is not", null)
    .where("connection_tokens.next_refresh_at", "<=", now)
    .orderBy("connection_tokens.next_refresh_at")
    .limit(limit)
    .execute();
}

/** Replaces the tokens of a connection after a refresh, unless it was unlinked or relinked meanwhile (its row gone or newer). */
export async function replaceRefreshedTokens(tx: Tx, previous: ConnectionTokensRow, row: ConnectionTokensRow): Promise<boolean> {
  const result = await tx
    .updateTable("connection_tokens")
    .set({ ...row })
    .where("connection_id", "=", previous.connection_id)
    .where("updated_at", "=", previous.updated_at)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Records a passing refresh failure: when to try again, and since when refreshes have been failing. */
export async function postponeRefresh(db: Db, connectionId: ConnectionId, failingSince: number, nextRefreshAt: number): Promise<void> {
  await db
    .updateTable("connection_tokens")
    .set({ refresh_failing_since: failingSince, next_refresh_at: nextRefreshAt })
    .where("connection_id", "=", connectionId)
    .execute();
}

/** Forgets a connection's tokens: its access was revoked, or it was unlinked. */
export async function deleteConnectionTokens(tx: Tx, connectionId: ConnectionId): Promise<void> {
  await tx.deleteFrom("connection_tokens").where("connection_id", "=", connectionId).execute();
}
