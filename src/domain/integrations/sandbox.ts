import type { Integration, LinkOutcome } from "./registry.ts";

/** Credentials the sandbox accepts through update-connection-authorization. */
export const SANDBOX_CREDENTIALS = { username: "sandbox", password: "sandbox-password" } as const;

export const CANCELLED_OUTCOME: LinkOutcome = {
  linked: false,
  statusCode: "403",
  statusText: "User cancelled linking",
  errorMessage: "User cancelled",
};

/**
 * The built-in integration for trying Hookline end to end: its hosted link
 * page offers Authorize and Cancel, and it accepts one fixed set of credentials.
 */
export const sandboxIntegration: Integration = {
  key: "sand",
  integrationId: "6c5bd5a7-8a3b-4b2f-9b8e-2f0a52b0c001",
  sourceId: "6c5bd5a7-8a3b-4b2f-9b8e-2f0a52b0c002",
  name: "Hookline Sandbox",
  sourceType: "Banking",
  logoUrl: "https://hookline.invalid/integrations/sand/logo.png",
  async authorize(grant) {
    // No provider stands behind the sandbox to sign in to: Authorize on its hosted page is all the consent it asks for.
    if (grant.kind === "consent") return { linked: true };
    const { credentials } = grant;
    if (credentials.username === SANDBOX_CREDENTIALS.username && credentials.password === SANDBOX_CREDENTIALS.password) {
      return { linked: true };
    }
    return { linked: false, statusCode: "401", statusText: "Unauthorized", errorMessage: "Invalid sandbox credentials" };
  },
};
