import { sql } from "kysely";
import type { Db } from "../database.ts";
import { jsonRecords } from "../json-records.ts";
import type { Lease } from "./lease.ts";

/**
 * The deliveries a lease still holds, oldest first, each with its consumer's
 * settings as stored and the sizes of what sending it carries (UTF-8 bytes,
 * as sent). Reads only: a delivery whose consumer was deleted meanwhile is
 * not among them.
 */
export function readLeasedDeliveries(db: Db, { owner, ids }: Lease) {
  return (
    db
      .selectFrom("deliveries")
      .innerJoin("messages", "messages.id", "deliveries.message_id")
      .innerJoin("consumers", "consumers.id", "deliveries.consumer_id")
      .select([
        "deliveries.id",
        "deliveries.client_id as clientId",
        "deliveries.message_id as messageId",
        "deliveries.consumer_id as consumerId",
        "deliveries.company_id as companyId",
        "deliveries.attempt_count as attemptCount",
        "deliveries.status",
        "deliveries.unrecorded_claims as unrecordedClaims",
        sql<number>`octet_length(messages.body)`.as("bodyBytes"),
        sql<number>`coalesce(octet_length(consumers.custom_headers), 0)`.as("headerBytes"),
        "consumers.url",
        "consumers.disabled",
        "consumers.signing_secret as signingSecret",
        "consumers.previous_secrets as previousSecrets",
        "consumers.custom_headers as customHeaders",
        "consumers.mtls_certificate as mtlsCertificate",
        "consumers.mtls_private_key as mtlsPrivateKey",
        "consumers.failing_since as failingSince",
        "consumers.consecutive_failures as consecutiveFailures",
        "consumers.circuit_open_until as circuitOpenUntil",
        "consumers.ordering",
        "consumers.rate_limit as rateLimit",
        "consumers.slow_concurrency as slowConcurrency",
        // The version only: the code itself is read once per consumer of a batch, and only for consumers that have one.
        sql<number | null>`case when consumers.transformation_enabled = 1 then consumers.transformation_version end`.as("transformationVersion"),
        "consumers.shadow",
        "consumers.shadow_test_url as shadowTestUrl",
        "deliveries.rate_slot_at as rateSlotAt",
      ])
      .where(sql<boolean>`deliveries.id IN (SELECT id FROM ${jsonRecords(db, "deliveries", claimedIds(ids), "claimed", ["id"])})`)
      .where("deliveries.lease_owner", "=", owner)
      // Ids are time-ordered: the oldest deliveries are sent first.
      .orderBy("deliveries.id")
      .execute()
  );
}

export type LeasedDelivery = Awaited<ReturnType<typeof readLeasedDeliveries>>[number];

const claimedIds = (ids: Lease["ids"]) => ids.map((id) => ({ id }));
