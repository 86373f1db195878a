import { randomBytes, randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { components } from "../generated/codat.d.ts";
import { badRequest, notFound, type ValidationItem } from "../errors.ts";
import type { Database } from "../storage/schema.ts";
import type { DomainContext } from "./context.ts";
import { catalogEventTypes, findEventType } from "./events/catalog.ts";

export type WebhookConsumerResource = components["schemas"]["WebhookConsumer"];

export interface ConsumerInput {
  url: string;
  eventTypes: string[];
  companyTags?: string[] | null | undefined;
  disabled?: boolean | null | undefined;
}

/** A new Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
export const newSigningSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

const COMPANY_TAG = /^([^:]{1,27}):(.{0,100})$/s;

function validateSubscription(input: ConsumerInput): void {
  const errors: ValidationItem[] = [];
  if (input.eventTypes.length === 0) {
    errors.push({ itemId: "eventTypes", message: "Subscribe to at least one event type", validatorName: "eventTypes" });
  }
  const unknown = input.eventTypes.filter((eventType) => findEventType(eventType) === undefined);
  if (unknown.length > 0) {
    errors.push({
      itemId: "eventTypes",
      message: `Unknown event types ${unknown.map((type) => `"${type}"`).join(", ")}. Valid event types: ${catalogEventTypes().join(", ")} ({dataType} may also be a data type such as invoices)`,
      validatorName: "eventTypes",
    });
  }
  for (const tag of input.companyTags ?? []) {
    if (!COMPANY_TAG.test(tag)) {
      errors.push({ itemId: "companyTags", message: `"${tag}" is not key:value (key 1-27 characters, value up to 100)`, validatorName: "companyTags" });
    }
  }
  if (errors.length > 0) throw badRequest(errors.map((error) => error.message).join(" "), errors);
}

type ConsumerRow = Pick<Database["consumers"], "id" | "url" | "event_types" | "company_tags" | "disabled">;

function toResource(row: ConsumerRow): WebhookConsumerResource {
  return {
    id: row.id,
    url: row.url,
    disabled: row.disabled === 1,
    eventTypes: JSON.parse(row.event_types) as string[],
    companyTags: row.company_tags === null ? null : (JSON.parse(row.company_tags) as string[]),
  };
}

async function findConsumer(db: Kysely<Database>, clientId: string, consumerId: string) {
  const row = await db.selectFrom("consumers").selectAll().where("client_id", "=", clientId).where("id", "=", consumerId).executeTakeFirst();
  if (!row) throw notFound("Webhook consumer");
  return row;
}

export async function createConsumer(ctx: DomainContext, clientId: string, input: ConsumerInput): Promise<WebhookConsumerResource> {
  validateSubscription(input);
  await ctx.destinations.assertAllowedUrl(input.url);
  const row = {
    id: randomUUID(),
    client_id: clientId,
    url: input.url,
    event_types: JSON.stringify([...new Set(input.eventTypes)]),
    company_tags: input.companyTags && input.companyTags.length > 0 ? JSON.stringify(input.companyTags) : null,
    disabled: input.disabled ? 1 : 0,
    signing_secret: newSigningSecret(),
    created_at: ctx.clock.now(),
  };
  await ctx.store.db.insertInto("consumers").values(row).execute();
  return toResource(row);
}

export async function listConsumers(ctx: DomainContext, clientId: string): Promise<{ results: WebhookConsumerResource[] }> {
  const rows = await ctx.store.db.selectFrom("consumers").selectAll().where("client_id", "=", clientId).orderBy("created_at").orderBy("id").execute();
  return { results: rows.map(toResource) };
}

export async function getConsumer(ctx: DomainContext, clientId: string, consumerId: string): Promise<WebhookConsumerResource> {
  return toResource(await findConsumer(ctx.store.db, clientId, consumerId));
}

export async function getSigningSecret(ctx: DomainContext, clientId: string, consumerId: string): Promise<{ key: string }> {
  return { key: (await findConsumer(ctx.store.db, clientId, consumerId)).signing_secret };
}

/** Deletes a consumer and with it every attempt still scheduled for it. */
export async function deleteConsumer(ctx: DomainContext, clientId: string, consumerId: string): Promise<void> {
  await ctx.store.transaction(async (tx) => {
    await findConsumer(tx, clientId, consumerId);
    await tx.deleteFrom("attempts").where("consumer_id", "=", consumerId).execute();
    await tx.deleteFrom("deliveries").where("consumer_id", "=", consumerId).execute();
    await tx.deleteFrom("consumers").where("id", "=", consumerId).execute();
  });
}
