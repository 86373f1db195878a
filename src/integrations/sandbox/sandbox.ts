import { notApplicable, providerIdentity, type IntegrationProvider } from "../provider.ts";

/** Credentials the sandbox accepts through update-connection-authorization. */
export const SANDBOX_CREDENTIALS = { username: "sandbox", password: "sandbox-password" } as const;

/** A plain mark: a sand-coloured square with an S, so the link pages show something for the sandbox too. */
const SANDBOX_LOGO = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#d8b26e"/><text x="32" y="44" font-family="sans-serif" font-size="34" font-weight="700" text-anchor="middle" fill="#4a3411">S</text></svg>`;

/**
 * The built-in integration for trying Hookline end to end: its hosted link
 * page offers Authorize and Cancel, and it accepts one fixed set of credentials.
 */
export function sandboxProvider(enabled: boolean): IntegrationProvider {
  return {
    ...providerIdentity("sandbox", {
      key: "sand",
      integrationId: "6c5bd5a7-8a3b-4b2f-9b8e-2f0a52b0c001",
      sourceId: "6c5bd5a7-8a3b-4b2f-9b8e-2f0a52b0c002",
      name: "Hookline Sandbox",
      sourceType: "Banking",
      enabled,
      logo: { contentType: "image/svg+xml", fileName: "logo.svg", bytes: Buffer.from(SANDBOX_LOGO) },
    }),
    startLink: () => ({ kind: "consent" }),
    // No provider stands behind the sandbox to sign in to: Authorize on its hosted page is all the consent it asks for.
    completeLink: async () => ({ linked: true }),
    async acceptCredentials(_connection, credentials) {
      if (credentials.username === SANDBOX_CREDENTIALS.username && credentials.password === SANDBOX_CREDENTIALS.password) {
        return { linked: true };
      }
      return { linked: false, statusCode: "401", statusText: "Unauthorized", errorMessage: "Invalid sandbox credentials" };
    },
    refresh: notApplicable("the sandbox's links hold no access that lapses"),
    revoke: notApplicable("the sandbox holds no access at a source to withdraw"),
  };
}
