import type { components } from "../generated/codat.d.ts";
import type { CompanyId, ConnectionId } from "../ids.ts";

export type SourceType = NonNullable<components["schemas"]["Integration"]["sourceType"]>;

/** What the provider said about one linking attempt. */
export type LinkOutcome = { linked: true } | { linked: false; statusCode: string; statusText: string; errorMessage: string };

/** The SMB cancelled on the hosted link page: its own answer, whichever provider the connection is for. */
export const CANCELLED_OUTCOME: LinkOutcome = {
  linked: false,
  statusCode: "403",
  statusText: "User cancelled linking",
  errorMessage: "User cancelled",
};

/** What comes back to the hosted link page: the SMB's consent on it (where a real provider would take it through its own sign-in). */
export type LinkCallback = { kind: "consent" };

/** What the SMB gave to link a connection: credentials sent through update-connection-authorization, or what came back to the link page. */
export type LinkGrant = { kind: "credentials"; credentials: Record<string, string> } | LinkCallback;

/** How linking begins on the hosted link page: the page asks the SMB for its consent, with Authorize and Cancel. */
export type LinkStart = { kind: "consent" };

/** The connection a provider acts on. */
export interface ProviderConnection {
  companyId: CompanyId;
  connectionId: ConnectionId;
}

/** A capability a provider does not have, declared in its definition rather than left out. */
export interface NotApplicable {
  readonly notApplicable: string;
}

export const notApplicable = (reason: string): NotApplicable => ({ notApplicable: reason });

/**
 * One data source connections are linked to, and the whole of how linking
 * it goes: starting on the hosted link page, what comes back from it (the
 * SMB's consent, or a provider's callback), credentials sent through the API,
 * and the upkeep of a linked connection's access (refresh, revoke), which a
 * provider without lasting access declares not applicable. Identifiers follow
 * the Codat document: a four-lowercase-letter platform key and UUIDs.
 */
export interface IntegrationProvider {
  key: string;
  integrationId: string;
  sourceId: string;
  name: string;
  sourceType: SourceType;
  logoUrl: string;
  /** What the hosted link page does when the SMB opens it. */
  startLink(connection: ProviderConnection): LinkStart;
  /** Decides whether what came back to the hosted link page links the connection. */
  completeLink(connection: ProviderConnection, callback: LinkCallback): Promise<LinkOutcome>;
  /** Decides whether credentials sent through update-connection-authorization link the connection. */
  acceptCredentials(connection: ProviderConnection, credentials: Record<string, string>): Promise<LinkOutcome>;
  /** Renews a linked connection's access to its source before it lapses. */
  refresh: ((connection: ProviderConnection) => Promise<LinkOutcome>) | NotApplicable;
  /** Withdraws a connection's access at its source once it is unlinked or deleted. */
  revoke: ((connection: ProviderConnection) => Promise<void>) | NotApplicable;
}
