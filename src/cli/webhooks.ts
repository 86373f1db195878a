import { readFileSync } from "node:fs";
import type { Command, Option } from "commander";
import { CONSUMER_ORDERINGS, type ConsumerOrdering } from "../constants/statuses.ts";
import { listCustomHeaders, removeCustomHeader, setCustomHeaders } from "../domain/consumer-headers.ts";
import {
  createConsumer,
  deleteConsumer,
  getConsumer,
  listConsumers,
  rotateSigningSecret,
  setConsumerEnabled,
  updateConsumer,
  type ConsumerUpdate,
} from "../domain/consumers.ts";
import { sendExample } from "../domain/events/examples.ts";
import type { AppContext } from "../domain/context.ts";
import { deleteTransformation, getTransformation, setTransformation, testTransformation } from "../domain/consumer-transformation.ts";
import { contractMigration, expandMigration, migrationCandidates, migrationReport, revertMigration, switchMigration } from "../domain/legacy-migration.ts";
import { badRequest } from "../errors.ts";
import { asId, type ClientId, type ConsumerId } from "../ids.ts";
import { jsonOption, printJson, printList } from "./output.ts";

type WithContext = (work: (ctx: AppContext) => Promise<void>) => Promise<void>;

interface UpdateOptions {
  client: string;
  url?: string;
  eventTypes?: string[];
  companyTags?: string[];
  allCompanies?: boolean;
  description?: string;
  rateLimit?: string;
  slowConcurrency?: string;
  ordering?: string;
}

function updateFrom(options: UpdateOptions): ConsumerUpdate {
  const update: ConsumerUpdate = {};
  if (options.url !== undefined) update.url = options.url;
  if (options.eventTypes !== undefined) update.eventTypes = options.eventTypes;
  if (options.companyTags !== undefined) update.companyTags = options.companyTags;
  if (options.allCompanies) update.companyTags = null;
  if (options.description !== undefined) update.description = options.description === "" ? null : options.description;
  if (options.rateLimit !== undefined) update.rateLimit = options.rateLimit === "none" ? null : Number(options.rateLimit);
  if (options.slowConcurrency !== undefined) update.slowConcurrency = options.slowConcurrency === "default" ? null : Number(options.slowConcurrency);
  if (options.ordering !== undefined) update.ordering = orderingOf(options.ordering);
  return update;
}

function orderingOf(text: string): ConsumerOrdering {
  const ordering = CONSUMER_ORDERINGS.find((name) => name === text);
  if (ordering === undefined) throw badRequest(`--ordering must be one of ${CONSUMER_ORDERINGS.join(", ")}`);
  return ordering;
}

/** `Name: value` as on the wire; the value keeps everything after the first colon, less leading spaces. */
function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(":");
  // The text is not echoed: it may be a credential typed without its name.
  if (colon <= 0) throw badRequest('Give each header as "Name: value"');
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trimStart()];
}

/** `hookline webhooks ...` beyond `secret`: what an operator scripts about a client's consumers. Lists are tables (or --json); the rest is JSON. */
export function webhookCommands(webhooks: Command, withContext: WithContext, clientOption: Option): void {
  webhooks
    .command("list")
    .addOption(clientOption)
    .addOption(jsonOption())
    .description("List consumers")
    .action((options: { client: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const answer = await listConsumers(ctx, asId<ClientId>(options.client));
        printList(options, answer, answer.results, {
          ID: (consumer) => consumer.id,
          URL: (consumer) => consumer.url,
          "EVENT TYPES": (consumer) => consumer.eventTypes?.join(" "),
          "COMPANY TAGS": (consumer) => consumer.companyTags?.join(" "),
          STATE: (consumer) => (consumer.disabled ? "disabled" : consumer.circuit.state === "open" ? "circuit open" : "enabled"),
        });
      }),
    );

  webhooks
    .command("create")
    .addOption(clientOption)
    .description("Create a consumer (validated as in the API: known event types, an allowed URL) and print it; read its secret with `webhooks secret`")
    .requiredOption("--url <url>", "(required) where deliveries are sent")
    .requiredOption("--event-types <eventType...>", "(required) event types to subscribe to (`hookline events catalog --types`)")
    .option("--company-tags <tag...>", "key:value tags: only companies carrying one of them")
    .action((options: { client: string; url: string; eventTypes: string[]; companyTags?: string[] }) =>
      withContext(async (ctx) =>
        printJson(
          await createConsumer(ctx, asId<ClientId>(options.client), { url: options.url, eventTypes: options.eventTypes, companyTags: options.companyTags }),
        ),
      ),
    );

  webhooks
    .command("delete <webhookId>")
    .addOption(clientOption)
    .description("Delete a consumer and every attempt still scheduled for it")
    .action((webhookId: string, options: { client: string }) =>
      withContext(async (ctx) => {
        await deleteConsumer(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId));
        console.log(`Deleted ${webhookId}.`);
      }),
    );

  webhooks
    .command("example <webhookId>")
    .addOption(clientOption)
    .description("Send the catalog's example of an event type to this consumer only, signed and retried like any event; prints the event")
    .requiredOption("--event-type <eventType>", '(required) e.g. "connection.failed" or "invoices.write.successful"')
    .action((webhookId: string, options: { client: string; eventType: string }) =>
      withContext(async (ctx) => printJson(await sendExample(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId), options.eventType))),
    );

  webhooks
    .command("get <webhookId>")
    .addOption(clientOption)
    .description("Print a consumer")
    .action((webhookId: string, options: { client: string }) =>
      withContext(async (ctx) => printJson(await getConsumer(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId)))),
    );

  webhooks
    .command("update <webhookId>")
    .addOption(clientOption)
    .description("Change a consumer's URL, subscription, description, rate limit, slow concurrency or ordering (validated as in the API)")
    .option("--url <url>", "new URL")
    .option("--event-types <eventType...>", "new event types (replace the old ones)")
    .option("--company-tags <tag...>", "key:value tags (replace the old ones)")
    .option("--all-companies", "remove the company tag filter")
    .option("--description <text>", 'a note ("" removes it)')
    .option("--rate-limit <perSecond>", 'most messages per second, or "none"')
    .option(
      "--slow-concurrency <attempts>",
      'while the consumer is slow, the most attempts in flight to it at once per worker (up to the operator\'s HOOKLINE_SLOW_CONSUMER_CONCURRENCY), or "default"',
    )
    .option("--ordering <ordering>", '"fifo" (one at a time, in event order), "fifo-by-company" (so for each company) or "unordered"')
    .action((webhookId: string, options: UpdateOptions) =>
      withContext(async (ctx) => printJson(await updateConsumer(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId), updateFrom(options)))),
    );

  for (const [action, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    webhooks
      .command(`${action} <webhookId>`)
      .addOption(clientOption)
      .description(
        enabled
          ? "Enable a consumer: attempts that fall due from now on are made"
          : "Disable a consumer: attempts that fall due are skipped until it is enabled",
      )
      .action((webhookId: string, options: { client: string }) =>
        withContext(async (ctx) => printJson(await setConsumerEnabled(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId), enabled))),
      );
  }

  webhooks
    .command("rotate-secret <webhookId>")
    .addOption(clientOption)
    .description("Replace a consumer's signing secret and print the new one; the old one keeps signing for HOOKLINE_SECRET_ROTATION_OVERLAP")
    .action((webhookId: string, options: { client: string }) =>
      withContext(async (ctx) => console.log((await rotateSigningSecret(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId))).key)),
    );

  const headers = webhooks.command("headers").description("Custom headers sent with every attempt (values are shown masked)");
  headers
    .command("set <webhookId> <header...>")
    .addOption(clientOption)
    .description('Add or replace headers, each given as "Name: value"; the others stay')
    .action((webhookId: string, given: string[], options: { client: string }) =>
      withContext(async (ctx) =>
        printJson(
          await setCustomHeaders(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId), Object.fromEntries(given.map(parseHeader)), "merge"),
        ),
      ),
    );
  headers
    .command("list <webhookId>")
    .addOption(clientOption)
    .addOption(jsonOption())
    .description("List header names with masked values")
    .action((webhookId: string, options: { client: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const answer = await listCustomHeaders(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId));
        printList(options, answer, Object.entries(answer.headers), { NAME: ([name]) => name, VALUE: ([, value]) => value });
      }),
    );
  headers
    .command("remove <webhookId> <name>")
    .addOption(clientOption)
    .description("Stop sending a header")
    .action((webhookId: string, name: string, options: { client: string }) =>
      withContext(async (ctx) => {
        await removeCustomHeader(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId), name);
        console.log(`Removed ${name}.`);
      }),
    );

  transformationCommands(webhooks, withContext, clientOption);
  migrationCommands(webhooks, withContext, clientOption);
}

/** `hookline webhooks migration ...`: a legacy rule consumer's migration, the same steps as /webhooks/migration. */
function migrationCommands(webhooks: Command, withContext: WithContext, clientOption: Option): void {
  const migration = webhooks.command("migration").description("Move a consumer off legacy rule types: expand, report, switch, contract (or revert)");
  migration
    .command("list")
    .addOption(clientOption)
    .addOption(jsonOption())
    .description("List consumers on legacy rule types, their proposed event types and how far their migration went")
    .action((options: { client: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const answer = await migrationCandidates(ctx, asId<ClientId>(options.client));
        printList(options, answer, answer.results, {
          ID: (candidate) => candidate.webhookId,
          "LEGACY TYPES": (candidate) => candidate.legacyEventTypes.join(", "),
          "PROPOSED EVENT TYPES": (candidate) => candidate.proposedEventTypes.join(" "),
          STATE: (candidate) => candidate.migration.state,
          REPLACEMENT: (candidate) => candidate.migration.replacementWebhookId ?? "",
        });
      }),
    );
  migration
    .command("expand <webhookId>")
    .addOption(clientOption)
    .option("--url <url>", "the replacement's URL (the legacy consumer's by default)")
    .option("--test-url <url>", "send the shadow replacement's deliveries here meanwhile (by default they are recorded, not sent)")
    .description("Create the replacement in shadow mode: its deliveries are recorded but never sent to its URL")
    .action((webhookId: string, options: { client: string; url?: string; testUrl?: string }) =>
      withContext(async (ctx) =>
        printJson(await expandMigration(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId), { url: options.url, testUrl: options.testUrl })),
      ),
    );
  migration
    .command("report <webhookId>")
    .addOption(clientOption)
    .option("--since <time>", "ISO 8601 date or date-time (the replacement's creation by default)")
    .option("--until <time>", "ISO 8601 date or date-time (now by default)")
    .description("Compare the legacy consumer's deliveries with the replacement's: matched, legacy-only, new-only")
    .action((webhookId: string, options: { client: string; since?: string; until?: string }) =>
      withContext(async (ctx) =>
        printJson(await migrationReport(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId), { since: options.since, until: options.until })),
      ),
    );
  for (const [step, run, description] of [
    ["switch", switchMigration, "The replacement goes live and the legacy consumer is disabled"],
    ["revert", revertMigration, "Undo the last step: back to shadow mode after a switch; in shadow mode, delete the replacement"],
    ["contract", contractMigration, "Delete the legacy consumer, once switched (not reversible)"],
  ] as const) {
    migration
      .command(`${step} <webhookId>`)
      .addOption(clientOption)
      .description(description)
      .action((webhookId: string, options: { client: string }) =>
        withContext(async (ctx) => printJson(await run(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId)))),
      );
  }
}

/** A file's text, or standard input's for "-". */
const readText = (path: string) => readFileSync(path === "-" ? 0 : path, "utf8");

/** `hookline webhooks transformation ...`: the same operations as /webhooks/{webhookId}/transformation. */
function transformationCommands(webhooks: Command, withContext: WithContext, clientOption: Option): void {
  const transformation = webhooks
    .command("transformation")
    .description("A consumer's transformation: JavaScript defining handler(webhook), run on each delivery");
  transformation
    .command("set <webhookId> <file>")
    .addOption(clientOption)
    .option("--disabled", "save it without running it on deliveries")
    .description('Save the code in <file> ("-" for standard input) once it compiles and defines handler')
    .action((webhookId: string, file: string, options: { client: string; disabled?: boolean }) =>
      withContext(async (ctx) =>
        printJson(
          await setTransformation(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId), { code: readText(file), enabled: !options.disabled }),
        ),
      ),
    );
  transformation
    .command("get <webhookId>")
    .addOption(clientOption)
    .description("Print the code and whether it runs")
    .action((webhookId: string, options: { client: string }) =>
      withContext(async (ctx) => printJson(await getTransformation(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId)))),
    );
  transformation
    .command("delete <webhookId>")
    .addOption(clientOption)
    .description("Remove the transformation: deliveries carry the event body again")
    .action((webhookId: string, options: { client: string }) =>
      withContext(async (ctx) => {
        await deleteTransformation(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId));
        console.log("Removed the transformation.");
      }),
    );
  transformation
    .command("test <webhookId>")
    .addOption(clientOption)
    .option("--code <file>", "run this code instead of the saved code")
    .option("--payload <file>", "the event body (JSON) the handler gets as webhook.payload")
    .option("--event-type <eventType>", "without --payload: the catalog event type whose example to use")
    .description("Run the transformation once and print the result, the console output and the error; nothing is sent")
    .action((webhookId: string, options: { client: string; code?: string; payload?: string; eventType?: string }) =>
      withContext(async (ctx) => {
        let payload: unknown;
        if (options.payload !== undefined) {
          try {
            payload = JSON.parse(readText(options.payload));
          } catch {
            throw badRequest(`--payload ${options.payload} is not a JSON file`);
          }
        }
        printJson(
          await testTransformation(ctx, asId<ClientId>(options.client), asId<ConsumerId>(webhookId), {
            ...(options.code !== undefined && { code: readText(options.code) }),
            ...(payload !== undefined && { payload }),
            ...(options.eventType !== undefined && { eventType: options.eventType }),
          }),
        );
      }),
    );
}
