import { randomUUID } from "node:crypto";
import { isoDate } from "../../clock.ts";
import type { Tx } from "../../storage/database.ts";
import { subscriptionMatches } from "./catalog.ts";

export interface NewEvent {
  clientId: string;
  eventType: string;
  /** The company the event is about, if any; its tags drive the consumers' tag filters. */
  company: { id: string; tags: Record<string, string> } | null;
  payload: unknown;
  generatedAt: number;
}

/**
 * The transactional outbox: the one function that turns an event into a
 * stored message and one pending delivery per matching consumer. Callers run
 * it inside the transaction that made the change, so a change and its
 * event are committed together or not at all.
 */
export async function recordEvent(tx: Tx, wakeWorkers: () => void, event: NewEvent): Promise<{ id: string; body: string }> {
  const id = randomUUID();
  const body = JSON.stringify({ id, eventType: event.eventType, generatedDate: isoDate(event.generatedAt), payload: event.payload });
  await tx
    .insertInto("messages")
    .values({ id, client_id: event.clientId, event_type: event.eventType, company_id: event.company?.id ?? null, body, created_at: event.generatedAt })
    .execute();

  const consumers = await tx
    .selectFrom("consumers")
    .select(["id", "event_types", "company_tags"])
    .where("client_id", "=", event.clientId)
    .where("disabled", "=", 0)
    .execute();
  const recipients = consumers.filter(
    (consumer) =>
      subscriptionMatches(JSON.parse(consumer.event_types) as string[], event.eventType) &&
      tagFilterMatches(consumer.company_tags === null ? null : (JSON.parse(consumer.company_tags) as string[]), event.company),
  );
  if (recipients.length > 0) {
    await tx
      .insertInto("deliveries")
      .values(
        recipients.map((consumer) => ({
          id: randomUUID(),
          client_id: event.clientId,
          message_id: id,
          consumer_id: consumer.id,
          status: "Sending" as const,
          attempt_count: 0,
          next_attempt_at: event.generatedAt,
          created_at: event.generatedAt,
          updated_at: event.generatedAt,
        })),
      )
      .execute();
    wakeWorkers();
  }
  return { id, body };
}

/**
 * A consumer without company tags hears about every company; one with tags
 * hears about a company that carries at least one of them (`key:value`,
 * case-sensitive), and never about events that concern no company.
 */
export function tagFilterMatches(consumerTags: string[] | null, company: NewEvent["company"]): boolean {
  if (consumerTags === null || consumerTags.length === 0) return true;
  if (company === null) return false;
  return consumerTags.some((tag) => {
    const colon = tag.indexOf(":");
    return colon > 0 && company.tags[tag.slice(0, colon)] === tag.slice(colon + 1);
  });
}
