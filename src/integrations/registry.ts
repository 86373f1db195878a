import type { components } from "../generated/codat.d.ts";
import { badRequest, notFound } from "../errors.ts";
import type { IntegrationProvider } from "./provider.ts";

export type IntegrationResource = components["schemas"]["Integration"];
export type BrandingResource = components["schemas"]["Branding"];

/** Where an integration's logo is served, under HOOKLINE_PUBLIC_URL: public, as the link pages and clients' own pages show it. */
export const logoPath = (integration: Pick<IntegrationProvider, "key" | "logo">) => `/integrations-assets/${integration.key}/${integration.logo.fileName}`;

/** The integrations this deployment offers: the built-in sandbox (unless switched off) and the operator's, in the order declared. */
export class IntegrationCatalog {
  constructor(private readonly providers: readonly IntegrationProvider[]) {}

  list(): readonly IntegrationProvider[] {
    return this.providers;
  }

  /** Those a new connection may be made to. */
  enabled(): readonly IntegrationProvider[] {
    return this.providers.filter((provider) => provider.enabled);
  }

  /** 404 for a key no integration has. */
  get(platformKey: string): IntegrationProvider {
    const provider = this.providers.find((candidate) => candidate.key === platformKey);
    if (!provider) throw notFound(`Integration "${platformKey}"`);
    return provider;
  }

  /** The integration's name, or its key for one the deployment no longer offers (past connections keep their key). */
  nameOf(platformKey: string): string {
    return this.providers.find((candidate) => candidate.key === platformKey)?.name ?? platformKey;
  }

  /** The integration a new connection is made to: 404 for an unknown key, 400 for one switched off. */
  forNewConnection(platformKey: string): IntegrationProvider {
    const provider = this.get(platformKey);
    if (!provider.enabled) throw badRequest(`Integration "${platformKey}" is not enabled`);
    return provider;
  }
}

export function toIntegrationResource(publicUrl: string, integration: IntegrationProvider): IntegrationResource {
  return {
    key: integration.key,
    logoUrl: `${publicUrl}${logoPath(integration)}`,
    name: integration.name,
    enabled: integration.enabled,
    sourceId: integration.sourceId,
    sourceType: integration.sourceType,
    integrationId: integration.integrationId,
    isOfflineConnector: false,
    isBeta: false,
    dataProvidedBy: "Hookline",
    datatypeFeatures: [],
  };
}

/** Codat's branding document: one logo serves as the full and square logo and as the button's face. */
export function toBrandingResource(publicUrl: string, integration: IntegrationProvider): BrandingResource {
  const image = { image: { src: `${publicUrl}${logoPath(integration)}`, alt: `${integration.name} logo` } };
  return { sourceId: integration.sourceId, logo: { full: image, square: image }, button: { default: image, hover: image } };
}
