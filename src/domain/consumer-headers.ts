import { badRequest, invalidFields, notFound } from "../errors.ts";
import type { ClientId, ConsumerId } from "../ids.ts";
import { openCustomHeaders, sealCustomHeaders } from "../storage/consumers-codec.ts";
import { findCustomHeaders } from "../storage/consumers.ts";
import type { AppContext } from "./context.ts";
import { changeConsumer } from "./consumers.ts";
import { MAX_CUSTOM_HEADERS } from "../constants/limits.ts";
import { headerErrors, maskedHeaders, mergedHeaders, type CustomHeaders } from "./custom-header-rules.ts";

/**
 * Sets a consumer's custom headers: `replace` makes `headers` the whole set,
 * otherwise they are added to (or replace) the existing ones.
 */
export async function setCustomHeaders(
  ctx: AppContext,
  clientId: ClientId,
  consumerId: ConsumerId,
  headers: CustomHeaders,
  mode: "replace" | "merge",
): Promise<{ headers: CustomHeaders }> {
  const errors = headerErrors(headers);
  if (errors.length > 0) throw invalidFields(errors);
  let result: CustomHeaders = {};
  await changeConsumer(ctx, clientId, consumerId, (row) => {
    result = mergedHeaders(mode === "replace" ? {} : openCustomHeaders(ctx.secretBox, consumerId, row.custom_headers), headers);
    if (Object.keys(result).length > MAX_CUSTOM_HEADERS) {
      throw badRequest(`A consumer has at most ${MAX_CUSTOM_HEADERS} custom headers`, [
        { itemId: "headers", message: `At most ${MAX_CUSTOM_HEADERS}`, validatorName: "headers" },
      ]);
    }
    return { custom_headers: sealCustomHeaders(ctx.secretBox, consumerId, result) };
  });
  return maskedHeaders(result);
}

export async function listCustomHeaders(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<{ headers: CustomHeaders }> {
  const row = await findCustomHeaders(ctx.store.db, clientId, consumerId);
  if (!row) throw notFound("Webhook consumer");
  return maskedHeaders(openCustomHeaders(ctx.secretBox, consumerId, row.custom_headers));
}

/** Removes one header (any letter case); 404 when the consumer has no such header. */
export async function removeCustomHeader(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId, name: string): Promise<void> {
  await changeConsumer(ctx, clientId, consumerId, (row) => {
    const headers = openCustomHeaders(ctx.secretBox, consumerId, row.custom_headers);
    const stored = Object.keys(headers).find((existing) => existing.toLowerCase() === name.toLowerCase());
    if (stored === undefined) throw notFound("Header");
    delete headers[stored];
    return { custom_headers: sealCustomHeaders(ctx.secretBox, consumerId, headers) };
  });
}
