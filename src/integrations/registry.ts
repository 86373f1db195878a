import type { components } from "../generated/codat.d.ts";
import { notFound } from "../errors.ts";
import type { IntegrationProvider } from "./provider.ts";
import { sandboxProvider } from "./sandbox/sandbox.ts";

export type IntegrationResource = components["schemas"]["Integration"];

const providers: readonly IntegrationProvider[] = [sandboxProvider];

export function listIntegrations(): readonly IntegrationProvider[] {
  return providers;
}

export function getIntegration(platformKey: string): IntegrationProvider {
  const provider = providers.find((candidate) => candidate.key === platformKey);
  if (!provider) throw notFound(`Integration "${platformKey}"`);
  return provider;
}

export function toIntegrationResource(integration: IntegrationProvider): IntegrationResource {
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
