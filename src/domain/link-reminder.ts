import { randomBytes } from "node:crypto";
import { isoDate } from "../clock.ts";
import { badRequest, notFound } from "../errors.ts";
import type { ClientId, CompanyId, ConnectionId } from "../ids.ts";
import * as connections from "../storage/connections.ts";
import { findJourney } from "../storage/link-funnels.ts";
import { findCompany } from "./company-reference.ts";
import { linkUrl } from "./connections.ts";
import type { AppContext } from "./context.ts";
import { LINK_REMINDER, type LinkReminderPayload } from "./events/insight-events.ts";
import { recordEvent } from "./events/outbox.ts";
import { linkErrorInCustomerWords } from "./insight.ts";
import { recordLinkStep } from "./link-funnel.ts";

/** 144 bits: the key makes the link URL as hard to guess as a new connection's ids. */
const LINK_KEY_BYTES = 18;

/**
 * A link reminder: the connection gets a fresh link URL, the ones sent before
 * stop opening its link page, and `connection.link.reminder` tells the
 * client's systems to send it (Hookline writes to no SMB itself). A Linked
 * connection needs none: 400.
 */
export async function sendLinkReminder(ctx: AppContext, clientId: ClientId, companyId: CompanyId, connectionId: ConnectionId): Promise<LinkReminderPayload> {
  const now = ctx.clock.now();
  const payload = await ctx.store.transaction(async (uow) => {
    const company = await findCompany(uow.tx, clientId, companyId);
    const row = await connections.findConnection(uow.tx, clientId, companyId, connectionId);
    if (!row) throw notFound("Connection");
    if (row.status === "Linked") throw badRequest("Connection is Linked: a link reminder is for a connection that is not linked");
    const journey = await findJourney(uow.tx, clientId, connectionId);
    const integration = ctx.integrations.get(row.integration_key);
    const linkKey = randomBytes(LINK_KEY_BYTES).toString("base64url");
    await connections.changeLinkKey(uow.tx, connectionId, linkKey);
    const failed = journey?.failed_at != null && journey.linked_at === null;
    const abandoned = journey?.opened_at != null && Number(journey.opened_at) < now - ctx.config.insight.abandonAfterMs;
    const payload: LinkReminderPayload = {
      companyId,
      companyName: company.name,
      connectionId,
      integrationKey: integration.key,
      platformName: integration.name,
      linkUrl: linkUrl(ctx.config.publicUrl, companyId, connectionId, linkKey),
      reason: row.status === "Deauthorized" ? "deauthorized" : failed ? "failed" : abandoned ? "abandoned" : "pending",
      lastError:
        journey?.error_status_code == null ? null : linkErrorInCustomerWords(integration.name, journey.error_status_code, journey.error_status_text ?? ""),
      remindedAt: isoDate(now),
    };
    await recordEvent(uow, { clientId, eventType: LINK_REMINDER, company, payload, generatedAt: now });
    return payload;
  });
  recordLinkStep(ctx, { companyId, connectionId }, "reminded", undefined, now);
  return payload;
}
