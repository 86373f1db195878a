import type { ClientId, CompanyId, ConnectionId } from "../ids.ts";
import type { Db, Tx } from "./database.ts";
import { fetchPage, type PageSlice } from "./paging.ts";
import { compare, whereFilter, type Filter, type ListOrder } from "./query-filter.ts";
import type { ConnectionsTable, Database } from "./schema.ts";

export type ConnectionStatus = ConnectionsTable["status"];
export type ConnectionRow = Pick<ConnectionsTable, "id" | "company_id" | "integration_key" | "status" | "created_at" | "last_sync_at" | "link_key">;

/** The columns a connection list may be filtered on. */
export type ConnectionFilterColumn = "id" | "status" | "integration_key";
export type ConnectionOrderColumn = "created_at" | "status" | "integration_key" | "id";

const CONNECTION_COLUMNS = ["id", "company_id", "integration_key", "status", "created_at", "last_sync_at", "link_key"] as const;

/** The client's connections of these companies, oldest first. */
export async function connectionsOfCompanies(db: Db, clientId: ClientId, companyIds: readonly CompanyId[]): Promise<ConnectionRow[]> {
  if (companyIds.length === 0) return [];
  return db
    .selectFrom("connections")
    .select(CONNECTION_COLUMNS)
    .where("client_id", "=", clientId)
    .where("company_id", "in", companyIds)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
}

/** The client's connection of that company, or undefined for an unknown or foreign id. */
export function findConnection(db: Db, clientId: ClientId, companyId: CompanyId, connectionId: ConnectionId): Promise<ConnectionRow | undefined> {
  return db
    .selectFrom("connections")
    .select(CONNECTION_COLUMNS)
    .where("client_id", "=", clientId)
    .where("company_id", "=", companyId)
    .where("id", "=", connectionId)
    .executeTakeFirst();
}

/** One page of a company's connections that pass `filter`, ordered by `order` then id, and how many pass it. */
export async function listConnections(
  db: Db,
  clientId: ClientId,
  companyId: CompanyId,
  list: { filter: Filter<ConnectionFilterColumn>; order: ListOrder<ConnectionOrderColumn>; slice: PageSlice },
): Promise<{ rows: ConnectionRow[]; total: number }> {
  let filtered = db.selectFrom("connections").where("client_id", "=", clientId).where("company_id", "=", companyId);
  const where = whereFilter<Database, "connections", ConnectionFilterColumn>(list.filter, (eb, { key, operator, value }) => compare(eb, key, operator, value));
  if (where) filtered = filtered.where(where);
  return fetchPage(filtered, list.slice, (query) => query.select(CONNECTION_COLUMNS).orderBy(list.order.column, list.order.direction).orderBy("id"));
}

export async function insertConnection(tx: Tx, clientId: ClientId, row: ConnectionRow): Promise<void> {
  await tx
    .insertInto("connections")
    .values({ ...row, client_id: clientId })
    .execute();
}

/**
 * Moves a connection from the status it was read with to `to`, only if no
 * concurrent request changed it meanwhile (PostgreSQL reads without locking),
 * so each transition, and its event, happens once. False when another got there first.
 */
export async function changeConnectionStatus(tx: Tx, row: ConnectionRow, to: ConnectionStatus): Promise<boolean> {
  const result = await tx.updateTable("connections").set({ status: to }).where("id", "=", row.id).where("status", "=", row.status).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Deletes a connection (its errors go with it); false when it was not there. */
export async function deleteConnection(tx: Tx, connectionId: ConnectionId): Promise<boolean> {
  const deleted = await tx.deleteFrom("connections").where("id", "=", connectionId).executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}

/** A connection with its company's name and client, found by the two ids alone: for the link pages, which no API key opens. */
export function findLinkSession(db: Db, companyId: CompanyId, connectionId: ConnectionId) {
  return db
    .selectFrom("connections")
    .innerJoin("companies", "companies.id", "connections.company_id")
    .select([
      "connections.client_id as clientId",
      "connections.status",
      "connections.integration_key as integrationKey",
      "connections.created_at as createdAt",
      "connections.link_key as linkKey",
      "companies.name as companyName",
    ])
    .where("connections.id", "=", connectionId)
    .where("connections.company_id", "=", companyId)
    .executeTakeFirst();
}

/** Gives a connection a new link key, which its link URL must carry from now on. */
export async function changeLinkKey(tx: Tx, connectionId: ConnectionId, linkKey: string): Promise<void> {
  await tx.updateTable("connections").set({ link_key: linkKey }).where("id", "=", connectionId).execute();
}
