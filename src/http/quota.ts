import type { FastifyReply, FastifyRequest } from "fastify";
import { isoDate } from "../clock.ts";
import type { DailyQuotaConfig } from "../config.ts";
import type { AppContext } from "../domain/context.ts";
import { countApiRequest } from "../domain/quota.ts";
import { HooklineError } from "../errors.ts";
import { asId, type ClientId } from "../ids.ts";

/** Counts every authenticated request against the client's quota; beyond it, 429 with Retry-After until the window ends. */
export function dailyQuota(ctx: AppContext, quota: DailyQuotaConfig) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const use = await countApiRequest(ctx, quota, asId<ClientId>(request.client.id));
    if (!use.exceeded) return;
    void reply.header("retry-after", String(Math.max(1, Math.ceil((use.windowEnd - ctx.clock.now()) / 1000))));
    throw new HooklineError(429, `The API quota of ${quota.limit} requests is used up until ${isoDate(use.windowEnd)}`, [], "Yes");
  };
}
