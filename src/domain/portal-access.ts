import { createHmac, timingSafeEqual } from "node:crypto";
import { isoDate } from "../clock.ts";
import { HooklineError } from "../errors.ts";
import { asId, newId, type ClientId, type ConsumerId } from "../ids.ts";
import { recordAccessUse } from "../storage/portal-access-uses.ts";
import { getConsumer } from "./consumers.ts";
import type { AppContext } from "./context.ts";

/** What a portal session may see and do: one client's data, all its consumers or only some, changes allowed or not. */
export interface PortalGrant {
  clientId: ClientId;
  readOnly: boolean;
  /** The consumers it is limited to; null for every consumer of the client. */
  consumerIds: ConsumerId[] | null;
}

export interface AccessLinkRequest {
  readOnly?: boolean | undefined;
  /** Limits the portal to these consumers (webhook ids) of the client. */
  webhookIds?: string[] | undefined;
}

interface LinkClaims {
  /** The link's id: it is recorded when used, so a second use is refused. */
  id: string;
  clientId: ClientId;
  readOnly: boolean;
  consumerIds: ConsumerId[] | null;
  expiresAt: number;
}

/** Why an access link does not open the portal, in words for whoever clicked it. */
export const refusedLink = {
  invalid: "This portal link is not valid. It may have been cut short or changed: ask for a new one.",
  expired: "This portal link has expired. Links open the portal only for a few minutes after they are made: ask for a new one.",
  used: "This portal link was already used. Each link opens the portal once: ask for a new one.",
} as const;

const PURPOSE = "portal-access-link";

const signature = (key: Buffer, payload: string) => createHmac("sha256", key).update(payload).digest("base64url");

/**
 * Makes a short-lived, single-use URL that opens the portal scoped to the
 * client (like Svix's app-portal access). The link is signed with a key
 * derived from the encryption keys, so nothing is stored until it is used
 * and every API process accepts it; the consumers it is limited to must be
 * the client's (another client's ids are a 404, as everywhere).
 */
export async function createAccessLink(ctx: AppContext, clientId: ClientId, request: AccessLinkRequest): Promise<{ url: string; expiresAt: string }> {
  const consumerIds = request.webhookIds === undefined ? null : [...new Set(request.webhookIds.map((id) => asId<ConsumerId>(id)))];
  for (const consumerId of consumerIds ?? []) await getConsumer(ctx, clientId, consumerId);
  const claims: LinkClaims = {
    id: newId(),
    clientId,
    readOnly: request.readOnly ?? false,
    consumerIds,
    expiresAt: ctx.clock.now() + ctx.config.portal.accessLinkTtlMs,
  };
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const token = `${payload}.${signature(ctx.secretBox.derivedKeys(PURPOSE)[0]!, payload)}`;
  return { url: `${ctx.config.publicUrl}/portal/open?token=${token}`, expiresAt: isoDate(claims.expiresAt) };
}

/**
 * Opens an access link: refused (403, with words for a person) when it was
 * changed, has expired or was used before. Its use is recorded in the same
 * statement that checks it, so two tabs racing with one link get one portal.
 */
export async function redeemAccessLink(ctx: AppContext, token: string): Promise<PortalGrant> {
  const [payload = "", sent = ""] = token.split(".");
  const given = Buffer.from(sent);
  const signedHere = ctx.secretBox.derivedKeys(PURPOSE).some((key) => {
    const expected = Buffer.from(signature(key, payload));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!signedHere) throw new HooklineError(403, refusedLink.invalid);
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as LinkClaims;
  const now = ctx.clock.now();
  if (now >= claims.expiresAt) throw new HooklineError(403, refusedLink.expired);
  if (!(await recordAccessUse(ctx.store, { id: claims.id, clientId: claims.clientId, expiresAt: claims.expiresAt }, now))) {
    throw new HooklineError(403, refusedLink.used);
  }
  return { clientId: claims.clientId, readOnly: claims.readOnly, consumerIds: claims.consumerIds };
}
