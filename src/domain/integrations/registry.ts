import type { components } from "../../generated/codat.d.ts";
import { notFound } from "../../errors.ts";
import { sandboxIntegration } from "./sandbox.ts";

export type IntegrationResource = components["schemas"]["Integration"];
export type SourceType = NonNullable<IntegrationResource["sourceType"]>;

/** What the provider said about one linking attempt. */
export type LinkOutcome = { linked: true } | { linked: false; statusCode: string; statusText: string; errorMessage: string };

/**
 * What the SMB gave to link a connection: credentials sent through
 * update-connection-authorization, or its consent on the hosted link page
 * (where a real provider would take it through its own sign-in).
 */
export type LinkGrant = { kind: "credentials"; credentials: Record<string, string> } | { kind: "consent" };

/**
 * An adapter that links connections to one data source. Identifiers follow
 * the Codat document: a four-lowercase-letter platform key and UUIDs.
 */
export interface Integration {
  key: string;
  integrationId: string;
  sourceId: string;
  name: string;
  sourceType: SourceType;
  logoUrl: string;
  /** Decides whether what the SMB gave links the connection; every way of linking goes through it. */
  authorize(grant: LinkGrant): Promise<LinkOutcome>;
}

const integrations: readonly Integration[] = [sandboxIntegration];

export function listIntegrations(): readonly Integration[] {
  return integrations;
}

export function getIntegration(platformKey: string): Integration {
  const integration = integrations.find((candidate) => candidate.key === platformKey);
  if (!integration) throw notFound(`Integration "${platformKey}"`);
  return integration;
}

export function toIntegrationResource(integration: Integration): IntegrationResource {
  return {
    key: integration.key,
    logoUrl: integration.logoUrl,
    name: integration.name,
    enabled: true,
    sourceId: integration.sourceId,
    sourceType: integration.sourceType,
    integrationId: integration.integrationId,
    isOfflineConnector: false,
    isBeta: false,
    dataProvidedBy: "Hookline",
    datatypeFeatures: [],
  };
}
