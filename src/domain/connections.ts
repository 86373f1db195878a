import type { Kysely } from "kysely";
import type { components } from "../generated/codat.d.ts";
import { isoDate } from "../clock.ts";
import { badRequest, notFound } from "../errors.ts";
import type { Tx } from "../storage/database.ts";
import type { ConnectionsTable, Database } from "../storage/schema.ts";
import { companyReference, findCompany, type CompanySnapshot } from "./companies.ts";
import type { DomainContext } from "./context.ts";
import { recordEvent } from "./events/outbox.ts";
import { getIntegration, type LinkGrant, type LinkOutcome } from "./integrations/registry.ts";
import { fetchPage, pageEnvelope, type PageRequest } from "./paging.ts";
import { compare, malformed, parseOrderBy, whereQuery } from "./query.ts";
import { newId } from "../ids.ts";

export type ConnectionResource = components["schemas"]["Connection"];
export type ConnectionStatus = ConnectionsTable["status"];

type ConnectionRow = Pick<ConnectionsTable, "id" | "company_id" | "integration_key" | "status" | "created_at" | "last_sync_at">;

const CONNECTION_COLUMNS = ["id", "company_id", "integration_key", "status", "created_at", "last_sync_at"] as const;

export const linkUrl = (publicUrl: string, companyId: string, connectionId: string) =>
  `${publicUrl}/link/companies/${companyId}/connections/${connectionId}/start`;

/** Connections with their errors, as the API and the events show them. */
export async function loadConnections(
  ctx: DomainContext,
  db: Kysely<Database>,
  clientId: string,
  scope: { companyIds?: string[]; rows?: ConnectionRow[] },
): Promise<Array<{ companyId: string; resource: ConnectionResource }>> {
  const rows =
    scope.rows ??
    (scope.companyIds && scope.companyIds.length > 0
      ? await db
          .selectFrom("connections")
          .select(CONNECTION_COLUMNS)
          .where("client_id", "=", clientId)
          .where("company_id", "in", scope.companyIds)
          .orderBy("created_at")
          .orderBy("id")
          .execute()
      : []);
  if (rows.length === 0) return [];
  const errors = await db
    .selectFrom("connection_errors")
    .selectAll()
    .where(
      "connection_id",
      "in",
      rows.map((row) => row.id),
    )
    .orderBy("errored_at")
    .orderBy("id")
    .execute();
  return rows.map((row) => {
    const integration = getIntegration(row.integration_key);
    const connectionErrors = errors
      .filter((error) => error.connection_id === row.id)
      .map((error) => ({
        statusCode: error.status_code,
        statusText: error.status_text,
        errorMessage: error.error_message,
        erroredOnUtc: isoDate(error.errored_at),
        status: error.status,
        ...(error.resolved_at === null ? {} : { resolvedOnUtc: isoDate(error.resolved_at) }),
      }));
    const resource: ConnectionResource = {
      id: row.id,
      integrationId: integration.integrationId,
      integrationKey: integration.key,
      sourceId: integration.sourceId,
      platformName: integration.name,
      linkUrl: linkUrl(ctx.publicUrl, row.company_id, row.id),
      status: row.status,
      ...(row.last_sync_at === null ? {} : { lastSync: isoDate(row.last_sync_at) }),
      created: isoDate(row.created_at),
      sourceType: integration.sourceType,
      dataConnectionErrors: connectionErrors,
    };
    return { companyId: row.company_id, resource };
  });
}

async function findConnectionRow(db: Kysely<Database>, clientId: string, companyId: string, connectionId: string): Promise<ConnectionRow> {
  const row = await db
    .selectFrom("connections")
    .select(CONNECTION_COLUMNS)
    .where("client_id", "=", clientId)
    .where("company_id", "=", companyId)
    .where("id", "=", connectionId)
    .executeTakeFirst();
  if (!row) throw notFound("Connection");
  return row;
}

async function resourceOf(ctx: DomainContext, db: Kysely<Database>, clientId: string, row: ConnectionRow): Promise<ConnectionResource> {
  return (await loadConnections(ctx, db, clientId, { rows: [row] }))[0]!.resource;
}

/**
 * Moves a connection from the status it was read with to `to`, only if no
 * concurrent request changed it meanwhile (PostgreSQL reads without locking),
 * so each transition, and its event, happens once.
 */
async function changeStatus(tx: Tx, row: ConnectionRow, to: ConnectionStatus): Promise<boolean> {
  const result = await tx.updateTable("connections").set({ status: to }).where("id", "=", row.id).where("status", "=", row.status).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Writes a `connection.*` event whose payload is the company reference and the connection as it is now. */
async function recordConnectionEvent(
  ctx: DomainContext,
  tx: Tx,
  wake: () => void,
  clientId: string,
  company: CompanySnapshot,
  eventType: string,
  connection: ConnectionResource,
  now: number,
): Promise<void> {
  await recordEvent(tx, wake, {
    clientId,
    eventType,
    company,
    payload: { referenceCompany: companyReference(ctx.publicUrl, company), connection },
    generatedAt: now,
  });
}

export async function createConnection(ctx: DomainContext, clientId: string, companyId: string, platformKey: string): Promise<ConnectionResource> {
  const integration = getIntegration(platformKey);
  const now = ctx.clock.now();
  return ctx.store.transaction(async ({ tx, wakeWorkers: wake }) => {
    const company = await findCompany(tx, clientId, companyId);
    const row: ConnectionRow = {
      id: newId(),
      company_id: companyId,
      integration_key: integration.key,
      status: "PendingAuth",
      created_at: now,
      last_sync_at: null,
    };
    await tx
      .insertInto("connections")
      .values({ ...row, client_id: clientId })
      .execute();
    const resource = await resourceOf(ctx, tx, clientId, row);
    await recordConnectionEvent(ctx, tx, wake, clientId, company, "connection.created", resource, now);
    return resource;
  });
}

export async function getConnection(ctx: DomainContext, clientId: string, companyId: string, connectionId: string): Promise<ConnectionResource> {
  await findCompany(ctx.store.db, clientId, companyId);
  return resourceOf(ctx, ctx.store.db, clientId, await findConnectionRow(ctx.store.db, clientId, companyId, connectionId));
}

const ORDERABLE = { created: "created_at", status: "status", integrationKey: "integration_key", id: "id" } as const;
const FILTERABLE: Record<string, "id" | "status" | "integration_key"> = {
  id: "id",
  status: "status",
  integrationKey: "integration_key",
  platformKey: "integration_key",
};

export async function listConnections(ctx: DomainContext, clientId: string, companyId: string, request: PageRequest) {
  await findCompany(ctx.store.db, clientId, companyId);
  const order = parseOrderBy(request.orderBy, ORDERABLE, "created_at");
  let filtered = ctx.store.db.selectFrom("connections").where("client_id", "=", clientId).where("company_id", "=", companyId);
  const where = whereQuery<Database, "connections">(request.query, (eb, { key, operator, value }) => {
    // Own keys only, so "constructor" is an unknown key rather than Object's.
    const column = Object.hasOwn(FILTERABLE, key) ? FILTERABLE[key] : undefined;
    if (!column) throw malformed(request.query!, `unknown key "${key}": use ${Object.keys(FILTERABLE).join(", ")}`);
    return compare(eb, column, operator, value);
  });
  if (where) filtered = filtered.where(where);
  const { rows, total } = await fetchPage(filtered, request, (query) => query.select(CONNECTION_COLUMNS).orderBy(order.column, order.direction).orderBy("id"));
  const connections = await loadConnections(ctx, ctx.store.db, clientId, { rows });
  return pageEnvelope(
    `/companies/${companyId}/connections`,
    request,
    connections.map((connection) => connection.resource),
    total,
  );
}

/**
 * Applies what the provider said about a linking attempt: success links the
 * connection (`connected`, or `reconnected` after a disconnection) and
 * resolves earlier errors; failure leaves the status as it was, records the
 * error and emits `connection.failed`.
 */
export async function recordLinkOutcome(
  ctx: DomainContext,
  clientId: string,
  companyId: string,
  connectionId: string,
  outcome: LinkOutcome,
): Promise<ConnectionResource> {
  const now = ctx.clock.now();
  return ctx.store.transaction(async ({ tx, wakeWorkers: wake }) => {
    const company = await findCompany(tx, clientId, companyId);
    const row = await findConnectionRow(tx, clientId, companyId, connectionId);
    if (!outcome.linked) {
      await tx
        .insertInto("connection_errors")
        .values({
          id: newId(),
          client_id: clientId,
          connection_id: row.id,
          status_code: outcome.statusCode,
          status_text: outcome.statusText,
          error_message: outcome.errorMessage,
          errored_at: now,
          status: "Active",
          resolved_at: null,
        })
        .execute();
      const resource = await resourceOf(ctx, tx, clientId, row);
      await recordConnectionEvent(ctx, tx, wake, clientId, company, "connection.failed", resource, now);
      return resource;
    }
    if (row.status === "Linked" || !(await changeStatus(tx, row, "Linked")))
      return resourceOf(ctx, tx, clientId, await findConnectionRow(tx, clientId, companyId, connectionId));
    const eventType = row.status === "PendingAuth" ? "connection.connected" : "connection.reconnected";
    await tx
      .updateTable("connection_errors")
      .set({ status: "Resolved", resolved_at: now })
      .where("connection_id", "=", row.id)
      .where("status", "=", "Active")
      .execute();
    const resource = await resourceOf(ctx, tx, clientId, { ...row, status: "Linked" });
    await recordConnectionEvent(ctx, tx, wake, clientId, company, eventType, resource, now);
    return resource;
  });
}

/** Asks the connection's integration whether the grant links it, and records the outcome. */
export async function authorizeConnection(
  ctx: DomainContext,
  clientId: string,
  companyId: string,
  connectionId: string,
  grant: LinkGrant,
): Promise<ConnectionResource> {
  const row = await findConnectionRow(ctx.store.db, clientId, companyId, connectionId);
  const outcome = await getIntegration(row.integration_key).authorize(grant);
  return recordLinkOutcome(ctx, clientId, companyId, connectionId, outcome);
}

/** A client unlinks a Linked connection (`connection.disconnected`); unlinking one already disconnected changes nothing. */
export async function unlinkConnection(
  ctx: DomainContext,
  clientId: string,
  companyId: string,
  connectionId: string,
  status: string | null | undefined,
): Promise<ConnectionResource> {
  if (status !== "Unlinked") throw badRequest(`Only {"status":"Unlinked"} is accepted, got ${JSON.stringify(status ?? null)}`);
  const now = ctx.clock.now();
  return ctx.store.transaction(async ({ tx, wakeWorkers: wake }) => {
    const company = await findCompany(tx, clientId, companyId);
    const row = await findConnectionRow(tx, clientId, companyId, connectionId);
    if (row.status === "Unlinked" || row.status === "Deauthorized") return resourceOf(ctx, tx, clientId, row);
    if (row.status !== "Linked") throw badRequest(`Connection is ${row.status}: only a Linked connection can be unlinked`);
    if (!(await changeStatus(tx, row, "Unlinked"))) return resourceOf(ctx, tx, clientId, await findConnectionRow(tx, clientId, companyId, connectionId));
    const resource = await resourceOf(ctx, tx, clientId, { ...row, status: "Unlinked" });
    await recordConnectionEvent(ctx, tx, wake, clientId, company, "connection.disconnected", resource, now);
    return resource;
  });
}

export async function deleteConnection(ctx: DomainContext, clientId: string, companyId: string, connectionId: string): Promise<void> {
  const now = ctx.clock.now();
  await ctx.store.transaction(async ({ tx, wakeWorkers: wake }) => {
    const company = await findCompany(tx, clientId, companyId);
    const row = await findConnectionRow(tx, clientId, companyId, connectionId);
    const resource = await resourceOf(ctx, tx, clientId, row);
    const deleted = await tx.deleteFrom("connections").where("id", "=", row.id).executeTakeFirst();
    // Deleted meanwhile by a concurrent request, which emitted the event.
    if (Number(deleted.numDeletedRows) === 0) throw notFound("Connection");
    await recordConnectionEvent(ctx, tx, wake, clientId, company, "connection.deleted", resource, now);
  });
}

/** Emits `connection.deleted` for every connection of a company about to be deleted with it. */
export async function connectionDeletedEvents(ctx: DomainContext, tx: Tx, wake: () => void, clientId: string, company: CompanySnapshot): Promise<void> {
  const now = ctx.clock.now();
  for (const { resource } of await loadConnections(ctx, tx, clientId, { companyIds: [company.id] })) {
    await recordConnectionEvent(ctx, tx, wake, clientId, company, "connection.deleted", resource, now);
  }
}

/** What the hosted link page shows. It is reached without an API key, by the unguessable ids in linkUrl. */
export async function findLinkSession(ctx: DomainContext, companyId: string, connectionId: string) {
  const row = await ctx.store.db
    .selectFrom("connections")
    .innerJoin("companies", "companies.id", "connections.company_id")
    .select(["connections.client_id as clientId", "connections.status", "connections.integration_key as integrationKey", "companies.name as companyName"])
    .where("connections.id", "=", connectionId)
    .where("connections.company_id", "=", companyId)
    .executeTakeFirst();
  if (!row) throw notFound("Connection");
  return { ...row, integration: getIntegration(row.integrationKey) };
}
