import type { components } from "../generated/codat.d.ts";
import { isoDate } from "../clock.ts";
import { badRequest, notFound } from "../errors.ts";
import { newId, type ClientId, type CompanyId, type ConnectionErrorId, type ConnectionId } from "../ids.ts";
import type { LinkFailure, LinkGrant, LinkOutcome } from "../integrations/provider.ts";
import * as connectionErrors from "../storage/connection-errors.ts";
import * as connections from "../storage/connections.ts";
import type { ConnectionFilterColumn, ConnectionRow } from "../storage/connections.ts";
import type { Db, UnitOfWork } from "../storage/database.ts";
import { companyReference, findCompany, type CompanySnapshot } from "./company-reference.ts";
import { forgetAccess, storeAccess, storeCredentials } from "./connection-access.ts";
import type { AppContext } from "./context.ts";
import { recordEvent } from "./events/outbox.ts";
import { recordLinkStep } from "./link-funnel.ts";
import { pageEnvelope, type PageRequest } from "./paging.ts";
import { malformed, parseFilter, parseOrderBy } from "./query.ts";

export type ConnectionResource = components["schemas"]["Connection"];
export type { ConnectionStatus } from "../storage/connections.ts";

/** A connection's link URL; after a link reminder it carries the reminder's key, and the URLs before it stop working. */
export const linkUrl = (publicUrl: string, companyId: CompanyId, connectionId: ConnectionId, linkKey: string | null) =>
  `${publicUrl}/link/companies/${companyId}/connections/${connectionId}/start${linkKey === null ? "" : `?key=${linkKey}`}`;

/** Connections with their errors, as the API and the events show them. */
async function connectionResources(ctx: AppContext, db: Db, rows: readonly ConnectionRow[]): Promise<ConnectionResource[]> {
  const errors = await connectionErrors.listConnectionErrors(
    db,
    rows.map((row) => row.id),
  );
  return rows.map((row) => {
    const integration = ctx.integrations.get(row.integration_key);
    const dataConnectionErrors = errors
      .filter((error) => error.connection_id === row.id)
      .map((error) => ({
        statusCode: error.status_code,
        statusText: error.status_text,
        errorMessage: error.error_message,
        erroredOnUtc: isoDate(error.errored_at),
        status: error.status,
        ...(error.resolved_at === null ? {} : { resolvedOnUtc: isoDate(error.resolved_at) }),
      }));
    return {
      id: row.id,
      integrationId: integration.integrationId,
      integrationKey: integration.key,
      sourceId: integration.sourceId,
      platformName: integration.name,
      linkUrl: linkUrl(ctx.config.publicUrl, row.company_id, row.id, row.link_key),
      status: row.status,
      ...(row.last_sync_at === null ? {} : { lastSync: isoDate(row.last_sync_at) }),
      created: isoDate(row.created_at),
      sourceType: integration.sourceType,
      dataConnectionErrors,
    };
  });
}

/** The client's connections of these companies, oldest first, each with the company it belongs to. */
export async function companyConnections(
  ctx: AppContext,
  db: Db,
  clientId: ClientId,
  companyIds: readonly CompanyId[],
): Promise<Array<{ companyId: CompanyId; resource: ConnectionResource }>> {
  const rows = await connections.connectionsOfCompanies(db, clientId, companyIds);
  const resources = await connectionResources(ctx, db, rows);
  return rows.map((row, index) => ({ companyId: row.company_id, resource: resources[index]! }));
}

async function resourceOf(ctx: AppContext, db: Db, row: ConnectionRow): Promise<ConnectionResource> {
  return (await connectionResources(ctx, db, [row]))[0]!;
}

/** The client's connection of that company; 404 for unknown or foreign ids. */
async function findConnection(db: Db, clientId: ClientId, companyId: CompanyId, connectionId: ConnectionId): Promise<ConnectionRow> {
  const row = await connections.findConnection(db, clientId, companyId, connectionId);
  if (!row) throw notFound("Connection");
  return row;
}

/** Writes a `connection.*` event whose payload is the company reference and the connection as it is now. */
async function recordConnectionEvent(
  ctx: AppContext,
  uow: UnitOfWork,
  clientId: ClientId,
  company: CompanySnapshot,
  eventType: string,
  connection: ConnectionResource,
  now: number,
): Promise<void> {
  await recordEvent(uow, {
    clientId,
    eventType,
    company,
    payload: { referenceCompany: companyReference(ctx.config.publicUrl, company), connection },
    generatedAt: now,
  });
}

export async function createConnection(ctx: AppContext, clientId: ClientId, companyId: CompanyId, platformKey: string): Promise<ConnectionResource> {
  const integration = ctx.integrations.forNewConnection(platformKey);
  const now = ctx.clock.now();
  const connectionId = newId<ConnectionId>();
  const created = await ctx.store.transaction(async (uow) => {
    const company = await findCompany(uow.tx, clientId, companyId);
    const row: ConnectionRow = {
      id: connectionId,
      company_id: companyId,
      integration_key: integration.key,
      status: "PendingAuth",
      created_at: now,
      last_sync_at: null,
      link_key: null,
    };
    await connections.insertConnection(uow.tx, clientId, row);
    const resource = await resourceOf(ctx, uow.tx, row);
    await recordConnectionEvent(ctx, uow, clientId, company, "connection.created", resource, now);
    return resource;
  });
  recordLinkStep(ctx, { companyId, connectionId }, "created", undefined, now);
  return created;
}

export async function getConnection(ctx: AppContext, clientId: ClientId, companyId: CompanyId, connectionId: ConnectionId): Promise<ConnectionResource> {
  await findCompany(ctx.store.db, clientId, companyId);
  return resourceOf(ctx, ctx.store.db, await findConnection(ctx.store.db, clientId, companyId, connectionId));
}

const ORDERABLE = { created: "created_at", status: "status", integrationKey: "integration_key", id: "id" } as const;
const FILTERABLE: Record<string, ConnectionFilterColumn> = {
  id: "id",
  status: "status",
  integrationKey: "integration_key",
  platformKey: "integration_key",
};

export async function listConnections(ctx: AppContext, clientId: ClientId, companyId: CompanyId, request: PageRequest) {
  await findCompany(ctx.store.db, clientId, companyId);
  const order = parseOrderBy(request.orderBy, ORDERABLE, "created_at");
  const filter = parseFilter(request.query).map((all) =>
    all.map(({ key, operator, value }) => {
      // Own keys only, so "constructor" is an unknown key rather than Object's.
      const column = Object.hasOwn(FILTERABLE, key) ? FILTERABLE[key] : undefined;
      if (!column) throw malformed(request.query!, `unknown key "${key}": use ${Object.keys(FILTERABLE).join(", ")}`);
      return { key: column, operator, value };
    }),
  );
  const { rows, total } = await connections.listConnections(ctx.store.db, clientId, companyId, { filter, order, slice: request });
  return pageEnvelope(`/companies/${companyId}/connections`, request, await connectionResources(ctx, ctx.store.db, rows), total);
}

/**
 * Applies what the provider said about a linking attempt: success links the
 * connection (`connected`, or `reconnected` after a disconnection), keeps the
 * access it granted (sealed) and resolves earlier errors; failure leaves the
 * status as it was, records the error and emits `connection.failed`.
 */
export async function recordLinkOutcome(
  ctx: AppContext,
  clientId: ClientId,
  companyId: CompanyId,
  connectionId: ConnectionId,
  outcome: LinkOutcome,
): Promise<ConnectionResource> {
  const now = ctx.clock.now();
  const { resource, step } = await ctx.store.transaction(async (uow) => {
    const company = await findCompany(uow.tx, clientId, companyId);
    const row = await findConnection(uow.tx, clientId, companyId, connectionId);
    if (!outcome.linked) {
      await insertError(uow, clientId, row.id, outcome, now);
      const resource = await resourceOf(ctx, uow.tx, row);
      await recordConnectionEvent(ctx, uow, clientId, company, "connection.failed", resource, now);
      return { resource, step: "failed" as const };
    }
    if (outcome.access) await storeAccess(ctx, uow.tx, clientId, row.id, outcome.access, now);
    if (outcome.credentials) await storeCredentials(ctx, uow.tx, clientId, row.id, outcome.credentials, now);
    if (row.status === "Linked" || !(await connections.changeConnectionStatus(uow.tx, row, "Linked")))
      return { resource: await resourceOf(ctx, uow.tx, await findConnection(uow.tx, clientId, companyId, connectionId)), step: null };
    const eventType = row.status === "PendingAuth" ? "connection.connected" : "connection.reconnected";
    await connectionErrors.resolveConnectionErrors(uow.tx, row.id, now);
    const resource = await resourceOf(ctx, uow.tx, { ...row, status: "Linked" });
    await recordConnectionEvent(ctx, uow, clientId, company, eventType, resource, now);
    return { resource, step: row.status === "PendingAuth" ? ("linked" as const) : ("reconnected" as const) };
  });
  if (step !== null) recordLinkStep(ctx, { companyId, connectionId }, step, outcome.linked ? undefined : outcome, now);
  return resource;
}

/** Records an active `dataConnectionErrors` entry. */
async function insertError(uow: UnitOfWork, clientId: ClientId, connectionId: ConnectionId, failure: LinkFailure, now: number): Promise<void> {
  await connectionErrors.insertConnectionError(uow.tx, {
    id: newId<ConnectionErrorId>(),
    client_id: clientId,
    connection_id: connectionId,
    status_code: failure.statusCode,
    status_text: failure.statusText,
    error_message: failure.errorMessage,
    errored_at: now,
    status: "Active",
    resolved_at: null,
  });
}

/**
 * The provider took back a Linked connection's access (its refresh token
 * refused as invalid_grant, say): the connection becomes `Deauthorized` with
 * the provider's status and message among its errors, its tokens are
 * forgotten, and the client hears `connection.disconnected`. A connection
 * no longer Linked is left as it is.
 */
export async function deauthorizeConnection(
  ctx: AppContext,
  clientId: ClientId,
  companyId: CompanyId,
  connectionId: ConnectionId,
  failure: LinkFailure,
): Promise<ConnectionResource> {
  const now = ctx.clock.now();
  const { resource, deauthorized } = await ctx.store.transaction(async (uow) => {
    const company = await findCompany(uow.tx, clientId, companyId);
    const row = await findConnection(uow.tx, clientId, companyId, connectionId);
    if (row.status !== "Linked" || !(await connections.changeConnectionStatus(uow.tx, row, "Deauthorized"))) {
      return { resource: await resourceOf(ctx, uow.tx, await findConnection(uow.tx, clientId, companyId, connectionId)), deauthorized: false };
    }
    await forgetAccess(uow.tx, row.id);
    await insertError(uow, clientId, row.id, failure, now);
    const resource = await resourceOf(ctx, uow.tx, { ...row, status: "Deauthorized" });
    await recordConnectionEvent(ctx, uow, clientId, company, "connection.disconnected", resource, now);
    return { resource, deauthorized: true };
  });
  if (deauthorized) recordLinkStep(ctx, { companyId, connectionId }, "deauthorized", failure, now);
  return resource;
}

/** Asks the connection's integration whether the grant links it, and records the outcome. */
export async function authorizeConnection(
  ctx: AppContext,
  clientId: ClientId,
  companyId: CompanyId,
  connectionId: ConnectionId,
  grant: LinkGrant,
): Promise<ConnectionResource> {
  const row = await findConnection(ctx.store.db, clientId, companyId, connectionId);
  const provider = ctx.integrations.get(row.integration_key);
  const connection = { companyId, connectionId };
  const outcome =
    grant.kind === "credentials" ? await provider.acceptCredentials(connection, grant.credentials) : await provider.completeLink(connection, grant);
  return recordLinkOutcome(ctx, clientId, companyId, connectionId, outcome);
}

/** A client unlinks a Linked connection (`connection.disconnected`); unlinking one already disconnected changes nothing. */
export async function unlinkConnection(
  ctx: AppContext,
  clientId: ClientId,
  companyId: CompanyId,
  connectionId: ConnectionId,
  status: string | null | undefined,
): Promise<ConnectionResource> {
  if (status !== "Unlinked") throw badRequest(`Only {"status":"Unlinked"} is accepted, got ${JSON.stringify(status ?? null)}`);
  const now = ctx.clock.now();
  const unlinked = await ctx.store.transaction(async (uow) => {
    const company = await findCompany(uow.tx, clientId, companyId);
    const row = await findConnection(uow.tx, clientId, companyId, connectionId);
    if (row.status === "Unlinked" || row.status === "Deauthorized") return { resource: await resourceOf(ctx, uow.tx, row), disconnected: false };
    if (row.status !== "Linked") throw badRequest(`Connection is ${row.status}: only a Linked connection can be unlinked`);
    if (!(await connections.changeConnectionStatus(uow.tx, row, "Unlinked")))
      return { resource: await resourceOf(ctx, uow.tx, await findConnection(uow.tx, clientId, companyId, connectionId)), disconnected: false };
    // Unlinked holds no access: the customer links again to give it back.
    await forgetAccess(uow.tx, row.id);
    const resource = await resourceOf(ctx, uow.tx, { ...row, status: "Unlinked" });
    await recordConnectionEvent(ctx, uow, clientId, company, "connection.disconnected", resource, now);
    return { resource, disconnected: true };
  });
  if (unlinked.disconnected) recordLinkStep(ctx, { companyId, connectionId }, "disconnected", undefined, now);
  return unlinked.resource;
}

export async function deleteConnection(ctx: AppContext, clientId: ClientId, companyId: CompanyId, connectionId: ConnectionId): Promise<void> {
  const now = ctx.clock.now();
  await ctx.store.transaction(async (uow) => {
    const company = await findCompany(uow.tx, clientId, companyId);
    const row = await findConnection(uow.tx, clientId, companyId, connectionId);
    const resource = await resourceOf(ctx, uow.tx, row);
    // Deleted meanwhile by a concurrent request, which emitted the event.
    if (!(await connections.deleteConnection(uow.tx, row.id))) throw notFound("Connection");
    await recordConnectionEvent(ctx, uow, clientId, company, "connection.deleted", resource, now);
  });
}

/** Emits `connection.deleted` for every connection of a company about to be deleted with it. */
export async function connectionDeletedEvents(ctx: AppContext, uow: UnitOfWork, clientId: ClientId, company: CompanySnapshot): Promise<void> {
  const now = ctx.clock.now();
  for (const { resource } of await companyConnections(ctx, uow.tx, clientId, [company.id])) {
    await recordConnectionEvent(ctx, uow, clientId, company, "connection.deleted", resource, now);
  }
}
