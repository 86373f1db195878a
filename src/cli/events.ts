import { readFileSync } from "node:fs";
import type { Command, Option } from "commander";
import { findClient } from "../domain/clients.ts";
import type { AppContext } from "../domain/context.ts";
import { describeCatalog } from "../domain/events/catalog-view.ts";
import { idempotencyKey } from "../domain/events/idempotency.ts";
import { publishEvent, type PublishRequest } from "../domain/events/publish.ts";
import { asId, type ClientId } from "../ids.ts";

type WithContext = (work: (ctx: AppContext) => Promise<void>) => Promise<void>;

/** A JSON argument, or `@path` for a file holding it. */
function jsonArgument(text: string, what: string): unknown {
  const source = text.startsWith("@") ? readFileSync(text.slice(1), "utf8") : text;
  try {
    return JSON.parse(source);
  } catch {
    throw new Error(`${what} is not valid JSON`);
  }
}

/** `hookline events ...`: the catalog, and publishing an event from the operator's scripts as POST /events does. Output is JSON. */
export function eventCommands(program: Command, withContext: WithContext, clientOption: Option, idempotencyKeyTtlMs: () => number): void {
  const events = program.command("events").description("The event catalog; publish events");

  events
    .command("catalog")
    .description("Print every event type with its description, whether it can be published, its JSON Schema and an example")
    .option("--types", "print only the event type names, one a line")
    .action((options: { types?: boolean }) => {
      const { results } = describeCatalog();
      console.log(options.types ? results.map((entry) => entry.eventType).join("\n") : JSON.stringify({ results }, null, 2));
    });

  events
    .command("publish <eventType>")
    .description("Publish an event (a read, write or product type) for one of the client's companies; prints the event as delivered")
    .addOption(clientOption)
    .requiredOption("--payload <json>", "the payload as JSON, or @file to read it from a file")
    .option("--company <companyId>", "the company it is about (default: payload.referenceCompany.id)")
    .option("--idempotency-key <key>", "publish at most once per key (kept HOOKLINE_IDEMPOTENCY_KEY_TTL, default 24h)")
    .action((eventType: string, options: { client: string; payload: string; company?: string; idempotencyKey?: string }) =>
      withContext(async (ctx) => {
        await findClient(ctx, asId<ClientId>(options.client));
        const request: PublishRequest = { eventType, companyId: options.company, payload: jsonArgument(options.payload, "--payload") };
        const key = options.idempotencyKey === undefined ? null : idempotencyKey(options.idempotencyKey, "POST /events", request, idempotencyKeyTtlMs());
        const { result, replayed } = await publishEvent(ctx, asId<ClientId>(options.client), request, key);
        if (replayed) console.error("Already published with this idempotency key; nothing was published again.");
        console.log(JSON.stringify(result, null, 2));
      }),
    );
}
