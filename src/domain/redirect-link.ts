import { createHash } from "node:crypto";
import { HooklineError } from "../errors.ts";
import type { CompanyId, ConnectionId } from "../ids.ts";
import { deleteExpiredLinkAttempts, findLinkAttempt, insertLinkAttempt, useLinkAttempt } from "../storage/link-attempts.ts";
import { recordLinkOutcome, type ConnectionResource } from "./connections.ts";
import type { AppContext } from "./context.ts";
import { findLinkSession, type LinkSession } from "./link.ts";

/** The one redirect URI of every OAuth integration: the operator registers it with each provider. */
export const oauthCallbackUrl = (publicUrl: string) => `${publicUrl}/link/oauth/callback`;

const digestOf = (state: string) => createHash("sha256").update(state).digest("base64url");

/** A callback that links nothing and changes nothing: the page says why. */
const refused = (message: string) => new HooklineError(400, message);

/**
 * Sends the customer on to the provider's sign-in: a new attempt, its state
 * and PKCE verifier (sealed) kept until the callback uses them once. Returns
 * the provider's authorize URL and the state, which the page binds to the
 * browser. 404 for unknown ids; 400 for an integration linked otherwise.
 */
export async function beginRedirectLink(
  ctx: AppContext,
  companyId: CompanyId,
  connectionId: ConnectionId,
  linkQuery: URLSearchParams,
): Promise<{ url: string; state: string }> {
  const session = await findLinkSession(ctx, companyId, connectionId, linkQuery.get("key") ?? undefined);
  if (session.start.kind !== "redirect") throw refused(`${session.integration.name} is linked on its own page, not by signing in at a provider`);
  const request = await session.start.authorize(oauthCallbackUrl(ctx.config.publicUrl));
  const now = ctx.clock.now();
  const stateDigest = digestOf(request.state);
  await insertLinkAttempt(ctx.store.db, {
    state_digest: stateDigest,
    client_id: session.clientId,
    company_id: companyId,
    connection_id: connectionId,
    code_verifier: ctx.secretBox.seal(request.codeVerifier, "pkce-verifier", stateDigest),
    link_query: linkQuery.toString(),
    created_at: now,
    expires_at: now + ctx.config.integrations.signInTtlMs,
    used_at: null,
  });
  return { url: request.url, state: request.state };
}

/**
 * Finishes a link on the provider's redirect back: the attempt its state
 * names, used at most once and before it expires, hands the callback to the
 * integration, and its outcome is recorded as any link's is. A missing,
 * unknown, reused or expired state, or one this browser was not sent off
 * with (`startedHere`), is refused (400) before anything changes.
 */
export async function finishRedirectLink(
  ctx: AppContext,
  callbackUrl: URL,
  startedHere: (state: string) => boolean,
): Promise<{ session: LinkSession; companyId: CompanyId; connectionId: ConnectionId; connection: ConnectionResource; linkQuery: URLSearchParams }> {
  const state = callbackUrl.searchParams.get("state");
  if (!state) throw refused("The provider sent you back without the state of your sign-in, so it cannot be matched to a connection");
  const stateDigest = digestOf(state);
  const attempt = await findLinkAttempt(ctx.store.db, stateDigest);
  if (!attempt) throw refused("This sign-in is not one Hookline started, or it was too long ago");
  const now = ctx.clock.now();
  if (attempt.used_at !== null) throw refused("This sign-in was already used; start again from your link");
  if (attempt.expires_at <= now) throw refused("This sign-in took too long and has expired; start again from your link");
  // A callback carrying another sign-in's state (another company's connection, or a link forwarded from another
  // browser) would link a connection its customer never chose.
  if (!startedHere(state)) throw refused("This sign-in was started in another browser, or for another company's connection, so it was not used");
  const linkQuery = new URLSearchParams(attempt.link_query);
  // A sign-in started from a link URL that a link reminder has since replaced is refused like that URL.
  const session = await findLinkSession(ctx, attempt.company_id, attempt.connection_id, linkQuery.get("key") ?? undefined);
  if (!(await ctx.store.transaction((uow) => useLinkAttempt(uow.tx, stateDigest, now))))
    throw refused("This sign-in was already used; start again from your link");
  const outcome = await session.integration.completeLink(
    { companyId: attempt.company_id, connectionId: attempt.connection_id },
    { kind: "redirect", callbackUrl, state, codeVerifier: ctx.secretBox.open(attempt.code_verifier, "pkce-verifier", stateDigest) },
  );
  const connection = await recordLinkOutcome(ctx, attempt.client_id, attempt.company_id, attempt.connection_id, outcome);
  return { session, companyId: attempt.company_id, connectionId: attempt.connection_id, connection, linkQuery };
}

/** Deletes the attempts past their expiry, used or not: their states are refused either way. */
export function forgetExpiredLinkAttempts(ctx: AppContext): Promise<number> {
  return deleteExpiredLinkAttempts(ctx.store.db, ctx.clock.now());
}
