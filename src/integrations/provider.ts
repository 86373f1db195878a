import type { components } from "../generated/codat.d.ts";
import type { CompanyId, ConnectionId } from "../ids.ts";

export type SourceType = NonNullable<components["schemas"]["Integration"]["sourceType"]>;

/** Access to a linked connection's source: what an OAuth 2.0 token endpoint handed out. Never logged, shown or sent in events. */
export interface AccessGrant {
  accessToken: string;
  /** Null when the provider gave none: the access then lapses at `expiresAt` and the customer links again. */
  refreshToken: string | null;
  /** Epoch ms; null when the provider did not say. */
  expiresAt: number | null;
}

/** Why linking failed, in the words of a connection's `dataConnectionErrors` entry. */
export interface LinkFailure {
  statusCode: string;
  statusText: string;
  errorMessage: string;
}

/**
 * What the provider said about one linking attempt; a link that grants
 * lasting access carries it, and a credentials link the credentials to keep
 * for the operator's data engine (sealed at rest).
 */
export type LinkOutcome = { linked: true; access?: AccessGrant; credentials?: Record<string, string> } | ({ linked: false } & LinkFailure);

/** The SMB cancelled, on the hosted link page or at the provider: its own answer, whichever provider the connection is for. */
export const CANCELLED_OUTCOME: LinkOutcome = {
  linked: false,
  statusCode: "403",
  statusText: "User cancelled linking",
  errorMessage: "User cancelled",
};

/** One trip of the SMB to a provider's sign-in: the URL it is sent to, and what the callback is checked against. */
export interface AuthorizationRequest {
  url: string;
  state: string;
  codeVerifier: string;
}

/**
 * What comes back to the hosted link page: the SMB's consent on it, or the
 * provider's redirect to Hookline's callback, with the attempt it answers.
 */
export type LinkCallback = { kind: "consent" } | { kind: "redirect"; callbackUrl: URL; state: string; codeVerifier: string };

/** What the SMB gave to link a connection: credentials sent through update-connection-authorization, or what came back to the link page. */
export type LinkGrant = { kind: "credentials"; credentials: Record<string, string> } | LinkCallback;

/** One field a credentials integration's link page asks for. */
export interface CredentialField {
  name: string;
  label: string;
  /** Typed into a password field. */
  secret: boolean;
}

/**
 * How linking begins on the hosted link page: the page asks the SMB for its
 * consent, with Authorize and Cancel; or it sends the SMB to the provider's
 * sign-in, which sends it back to Hookline's callback; or it asks for the
 * integration's credentials, which go where credentials through the API go.
 */
export type LinkStart =
  | { kind: "consent" }
  | { kind: "redirect"; authorize(redirectUri: string): Promise<AuthorizationRequest> }
  | { kind: "credentials"; fields: readonly CredentialField[] };

/** What renewing a connection's access came to. */
export type RefreshOutcome =
  | { kind: "refreshed"; access: AccessGrant }
  /** The provider refused the refresh token for good (invalid_grant): only the customer linking again restores access. */
  | ({ kind: "revoked" } & LinkFailure)
  /** A passing failure (5xx, timeout, refused connection): tried again later. */
  | ({ kind: "failed" } & LinkFailure);

/** An integration's logo, as served under HOOKLINE_PUBLIC_URL. */
export interface IntegrationLogo {
  contentType: "image/png" | "image/jpeg" | "image/svg+xml";
  /** File name in its URL, with the extension of its type. */
  fileName: string;
  bytes: Buffer;
}

/** What identifies an integration and how it shows, whatever its kind. */
export interface IntegrationIdentity {
  key: string;
  integrationId: string;
  sourceId: string;
  name: string;
  sourceType: SourceType;
  /** False: listed, but no new connection may be made to it (existing ones keep their history). */
  enabled: boolean;
  /** The logo Hookline serves for it, for its logoUrl, branding and the link pages. */
  logo: IntegrationLogo;
}

export type IntegrationKind = "sandbox" | "oauth2" | "credentials";

/**
 * The identity part of a provider's definition, taken from its settings
 * field by field: settings also hold what must not travel with the provider
 * object (an OAuth client secret), so they are never spread onto it.
 */
export function providerIdentity(kind: IntegrationKind, settings: IntegrationIdentity): IntegrationIdentity & { kind: IntegrationKind } {
  const { key, integrationId, sourceId, name, sourceType, enabled, logo } = settings;
  return { kind, key, integrationId, sourceId, name, sourceType, enabled, logo };
}

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

export const isNotApplicable = (capability: object): capability is NotApplicable => "notApplicable" in capability;

/**
 * One data source connections are linked to, and the whole of how linking
 * it goes: starting on the hosted link page, what comes back from it (the
 * SMB's consent, or a provider's callback), credentials sent through the API,
 * and the upkeep of a linked connection's access (refresh, revoke), which a
 * provider without lasting access declares not applicable. Identifiers follow
 * the Codat document: a four-lowercase-letter platform key and UUIDs.
 */
export interface IntegrationProvider extends IntegrationIdentity {
  /** How it links: the built-in sandbox, an OAuth 2.0 provider or a credentials form (shown by `hookline integrations list`). */
  kind: IntegrationKind;
  /** What the hosted link page does when the SMB opens it. */
  startLink(connection: ProviderConnection): LinkStart;
  /** Decides whether what came back to the hosted link page links the connection. */
  completeLink(connection: ProviderConnection, callback: LinkCallback): Promise<LinkOutcome>;
  /** Decides whether credentials sent through update-connection-authorization link the connection. */
  acceptCredentials(connection: ProviderConnection, credentials: Record<string, string>): Promise<LinkOutcome>;
  /** Renews a linked connection's access to its source, with its refresh token, before it lapses. */
  refresh: ((refreshToken: string) => Promise<RefreshOutcome>) | NotApplicable;
  /** Withdraws a connection's access at its source once it is unlinked or deleted. */
  revoke: ((connection: ProviderConnection) => Promise<void>) | NotApplicable;
}
