import { HooklineError, notFound } from "../errors.ts";
import type { ClientId, CompanyId, ConnectionId } from "../ids.ts";
import type { IntegrationProvider, LinkStart } from "../integrations/provider.ts";
import { findCompanyOwner } from "../storage/companies.ts";
import * as connections from "../storage/connections.ts";
import type { ConnectionStatus } from "../storage/connections.ts";
import { companyConnections, type ConnectionResource } from "./connections.ts";
import type { AppContext } from "./context.ts";
import { clientBranding, clientProfile, type ClientBranding } from "./profile.ts";
import { buildRedirectUrl } from "./redirect-url.ts";

/**
 * What the hosted link pages read. They are reached without an API key, by
 * the unguessable ids in a company's `redirect` and a connection's `linkUrl`,
 * so these find a company or connection by its ids alone.
 */

/** The company a link page is for, with the client it belongs to; undefined for an unknown id. */
export function findLinkCompany(ctx: AppContext, companyId: CompanyId): Promise<{ clientId: ClientId; name: string } | undefined> {
  return findCompanyOwner(ctx.store.db, companyId);
}

/** What a company's link page shows: its name, its connections and the client's branding; undefined for an unknown id. */
export async function findCompanyLinkPage(
  ctx: AppContext,
  companyId: CompanyId,
): Promise<{ name: string; connections: ConnectionResource[]; client: ClientBranding } | undefined> {
  const company = await findLinkCompany(ctx, companyId);
  if (!company) return undefined;
  const connections = await companyConnections(ctx, ctx.store.db, company.clientId, [companyId]);
  return { name: company.name, connections: connections.map(({ resource }) => resource), client: await clientBranding(ctx, company.clientId) };
}

/** What the SMB reads on a link page reached through a link URL that a link reminder replaced. */
const LINK_REPLACED = "This link was replaced by a newer one, so it no longer works. Open the latest link you were sent.";

export interface LinkSession {
  clientId: ClientId;
  /** The client's name and logo, as its profile gives them: the business the customer shares its data with. */
  client: ClientBranding;
  companyName: string;
  status: ConnectionStatus;
  integration: IntegrationProvider;
  /** The key its link URL carries since a link reminder; null before any. */
  linkKey: string | null;
  /** How the connection's provider begins linking. */
  start: LinkStart;
}

/**
 * What a connection's link page shows; 404 for unknown ids. Every page and
 * form of the link takes the key in its URL (`linkKey`, from the query),
 * which must be the latest link reminder's: a link URL sent before a
 * reminder, or a page rendered from one and submitted after it, is refused
 * (410) before anything is recorded or changed.
 */
export async function findLinkSession(ctx: AppContext, companyId: CompanyId, connectionId: ConnectionId, linkKey: unknown): Promise<LinkSession> {
  const row = await connections.findLinkSession(ctx.store.db, companyId, connectionId);
  if (!row) throw notFound("Connection");
  if (row.linkKey !== null && linkKey !== row.linkKey) throw new HooklineError(410, LINK_REPLACED);
  const integration = ctx.integrations.get(row.integrationKey);
  return {
    clientId: row.clientId,
    client: await clientBranding(ctx, row.clientId),
    companyName: row.companyName,
    status: row.status,
    integration,
    linkKey: row.linkKey,
    start: integration.startLink({ companyId, connectionId }),
  };
}

/**
 * Where the customer goes once a linking attempt is over: the client's
 * redirectUrl built for this connection and what happened to it (its latest
 * error when it is not Linked), with the custom placeholders filled from the
 * link URL's query; null without a usable redirectUrl, and the result page
 * says what happened instead.
 */
export async function linkRedirect(
  ctx: AppContext,
  session: Pick<LinkSession, "clientId" | "integration">,
  companyId: CompanyId,
  connection: ConnectionResource,
  linkQuery: URLSearchParams,
): Promise<string | null> {
  const profile = await clientProfile(ctx, session.clientId);
  const latest = connection.dataConnectionErrors?.at(-1);
  const failure =
    connection.status === "Linked" || !latest
      ? null
      : { statusCode: latest.statusCode ?? "500", statusText: latest.statusText ?? "", errorMessage: latest.errorMessage ?? "" };
  return buildRedirectUrl(
    profile.redirect_url,
    profile.white_list_urls,
    {
      clientId: session.clientId,
      companyId,
      connectionId: connection.id,
      integrationId: session.integration.integrationId,
      sourceId: session.integration.sourceId,
      platform: session.integration.key,
      platformName: session.integration.name,
      sourceType: session.integration.sourceType,
      failure,
    },
    linkQuery,
  );
}
