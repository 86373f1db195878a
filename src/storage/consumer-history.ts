import { newId, type ClientId, type ConsumerId, type HistoryEntryId } from "../ids.ts";
import type { Db, Tx } from "./database.ts";

/** One step of a consumer's history as the API shows it: its detail parsed. */
export interface HistoryEntry {
  at: number;
  action: string;
  detail: Record<string, unknown>;
}

export async function insertHistoryEntry(tx: Tx, clientId: ClientId, consumerId: ConsumerId, entry: HistoryEntry): Promise<void> {
  await tx
    .insertInto("consumer_history")
    .values({
      id: newId<HistoryEntryId>(),
      client_id: clientId,
      consumer_id: consumerId,
      at: entry.at,
      action: entry.action,
      detail: JSON.stringify(entry.detail),
    })
    .execute();
}

/** The consumer's history, oldest first (ids are time-ordered, so steps of one millisecond keep their order). */
export async function listHistory(db: Db, clientId: ClientId, consumerId: ConsumerId): Promise<HistoryEntry[]> {
  const rows = await db
    .selectFrom("consumer_history")
    .select(["at", "action", "detail"])
    .where("client_id", "=", clientId)
    .where("consumer_id", "=", consumerId)
    .orderBy("at")
    .orderBy("id")
    .execute();
  return rows.map((row) => ({ at: row.at, action: row.action, detail: JSON.parse(row.detail) as Record<string, unknown> }));
}

/** Goes with its consumer. */
export async function deleteHistoryOf(tx: Tx, clientId: ClientId, consumerId: ConsumerId): Promise<void> {
  await tx.deleteFrom("consumer_history").where("client_id", "=", clientId).where("consumer_id", "=", consumerId).execute();
}
