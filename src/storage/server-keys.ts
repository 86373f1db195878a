import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "./schema.ts";

/**
 * The deployment's key called `name`: 32 random bytes made by whichever
 * process asks first, then read by every other, so all API processes behind a
 * load balancer agree on it.
 */
export async function serverKey(db: Kysely<Database>, name: string, now: number): Promise<Buffer> {
  await db
    .insertInto("server_keys")
    .values({ name, value: randomBytes(32).toString("base64"), created_at: now })
    .onConflict((conflict) => conflict.column("name").doNothing())
    .execute();
  const row = await db.selectFrom("server_keys").select("value").where("name", "=", name).executeTakeFirstOrThrow();
  return Buffer.from(row.value, "base64");
}
