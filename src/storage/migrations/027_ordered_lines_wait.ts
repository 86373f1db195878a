import { sql, type Kysely } from "kysely";

/** The due time of a parked delivery as the code of this migration's time wrote it (deliveries/park.ts, PARKED_AT). */
const PARKED_AT = 8_640_000_000_000_000;

// Ordered consumers' deliveries wait in line from their creation, and only a line's head is ever due: the claim no
// longer holds back what it took from behind a head. Those that were behind a head when this ran and due, or held
// by a circuit or for a slot (not yet claimed, or claimed by a worker that stopped before holding them back, so never
// sent) wait in line now; what already waited in line stays, and goes when its head is final, as before.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`UPDATE deliveries SET next_attempt_at = ${sql.lit(PARKED_AT)}, parked_reason = 'line', lease_owner = NULL, rate_slot_at = NULL, unrecorded_claims = 0
    WHERE next_attempt_at IS NOT NULL AND (parked_reason IS NULL OR parked_reason IN ('circuit', 'slot'))
      AND EXISTS (SELECT 1 FROM consumers
        WHERE consumers.id = deliveries.consumer_id AND consumers.ordering <> 'unordered'
          AND EXISTS (SELECT 1 FROM deliveries AS older
            WHERE older.consumer_id = deliveries.consumer_id AND older.next_attempt_at IS NOT NULL AND older.id < deliveries.id
              AND (consumers.ordering = 'fifo' OR older.company_id = deliveries.company_id
                OR (older.company_id IS NULL AND deliveries.company_id IS NULL))))`.execute(db);
}
