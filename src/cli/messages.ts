import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from "../constants/limits.ts";
import type { Command, Option } from "commander";
import type { AppContext } from "../domain/context.ts";
import type { CursorRequest } from "../domain/cursor.ts";
import { getMessage, listAttempts, listConsumerMessages, listMessages } from "../domain/messages.ts";
import { recoverFailed, replayMissed, resendMessage, retryPendingNow } from "../domain/redelivery.ts";
import { asId, type ClientId, type ConsumerId, type MessageId } from "../ids.ts";
import { jsonOption, printJson, printList } from "./output.ts";

type WithContext = (work: (ctx: AppContext) => Promise<void>) => Promise<void>;

interface PageOptions {
  limit?: string;
  cursor?: string;
  json?: boolean;
}

/** Below a table: how to read the page after it, when there is one. */
const nextPage = (page: { nextCursor: string | null }) => (page.nextCursor === null ? undefined : `More: --cursor ${page.nextCursor}`);
const pageOf = (options: PageOptions): CursorRequest => ({ limit: options.limit === undefined ? undefined : Number(options.limit), cursor: options.cursor });
const ISO = "ISO 8601 date or date-time with offset, e.g. 2024-05-01T12:00:00Z";

/** `hookline messages ...`: the message log and redelivery, as the API offers them. Lists are tables (or --json); the rest is JSON. */
export function messageCommands(program: Command, withContext: WithContext, clientOption: Option): void {
  const messages = program.command("messages").description("The message log: list and inspect messages and attempts; resend, recover, replay");

  messages
    .command("list")
    .description("List messages, newest first (a page; pass its nextCursor as --cursor for the next)")
    .addOption(clientOption)
    .option("--webhook <webhookId>", "only messages sent to this consumer, with their status there")
    .option("--event-type <eventType...>", "only these event types")
    .option("--status <status>", "Sending, Attempting, Success or Failure")
    .option("--company <companyId>", "only messages about this company")
    .option("--since <time>", `generated at or after (${ISO})`)
    .option("--until <time>", "generated before")
    .option("--limit <n>", `results per page (1-${MAX_PAGE_LIMIT}, default ${DEFAULT_PAGE_LIMIT})`)
    .option("--cursor <cursor>", "the nextCursor of the previous page")
    .addOption(jsonOption())
    .action(
      (options: { client: string; webhook?: string; eventType?: string[]; status?: string; company?: string; since?: string; until?: string } & PageOptions) =>
        withContext(async (ctx) => {
          const filter = { eventTypes: options.eventType, status: options.status, companyId: options.company, since: options.since, until: options.until };
          const page =
            options.webhook === undefined
              ? await listMessages(ctx, asId<ClientId>(options.client), filter, pageOf(options))
              : await listConsumerMessages(ctx, asId<ClientId>(options.client), asId<ConsumerId>(options.webhook), filter, pageOf(options));
          printList(
            options,
            page,
            page.results,
            {
              ID: (message) => message.id,
              "EVENT TYPE": (message) => message.eventType,
              GENERATED: (message) => message.generatedDate,
              COMPANY: (message) => message.companyId,
              DELIVERIES: (message) =>
                message.deliveries
                  .map(
                    (delivery) =>
                      `${delivery.status}${delivery.attemptCount > 0 ? ` (${delivery.attemptCount} attempt${delivery.attemptCount === 1 ? "" : "s"})` : ""}`,
                  )
                  .join(", "),
            },
            nextPage(page),
          );
        }),
    );

  messages
    .command("get <messageId>")
    .description("Print a message with its payload and its status at each consumer")
    .addOption(clientOption)
    .action((messageId: string, options: { client: string }) =>
      withContext(async (ctx) => printJson(await getMessage(ctx, asId<ClientId>(options.client), asId<MessageId>(messageId)))),
    );

  messages
    .command("attempts <messageId>")
    .description("List a message's delivery attempts, newest first")
    .addOption(clientOption)
    .option("--webhook <webhookId>", "only the attempts at this consumer")
    .option("--limit <n>", `results per page (1-${MAX_PAGE_LIMIT}, default ${DEFAULT_PAGE_LIMIT})`)
    .option("--cursor <cursor>", "the nextCursor of the previous page")
    .addOption(jsonOption())
    .action((messageId: string, options: { client: string; webhook?: string } & PageOptions) =>
      withContext(async (ctx) => {
        const page = await listAttempts(
          ctx,
          asId<ClientId>(options.client),
          asId<MessageId>(messageId),
          options.webhook === undefined ? undefined : asId<ConsumerId>(options.webhook),
          pageOf(options),
        );
        printList(
          options,
          page,
          page.results,
          {
            TIME: (attempt) => attempt.timestamp,
            WEBHOOK: (attempt) => attempt.webhookId,
            ATTEMPT: (attempt) => `${attempt.schedule}.${attempt.attemptNumber}`,
            STATUS: (attempt) => attempt.statusCode,
            MS: (attempt) => attempt.durationMs,
            RESULT: (attempt) => (attempt.succeeded ? "ok" : attempt.error),
          },
          nextPage(page),
        );
      }),
    );

  messages
    .command("resend <messageId>")
    .description("Send a message to a consumer again, now, with a fresh attempt schedule")
    .addOption(clientOption)
    .requiredOption("--webhook <webhookId>", "the consumer to send it to")
    .action((messageId: string, options: { client: string; webhook: string }) =>
      withContext(async (ctx) =>
        printJson(await resendMessage(ctx, asId<ClientId>(options.client), asId<ConsumerId>(options.webhook), asId<MessageId>(messageId))),
      ),
    );

  const range = (command: Command) =>
    command
      .addOption(clientOption)
      .requiredOption("--webhook <webhookId>", "the consumer")
      // Commander does not mark required options in --help: the description says so.
      .requiredOption("--since <time>", `(required) messages generated at or after (${ISO})`)
      .option("--until <time>", "messages generated before");
  type RangeOptions = { client: string; webhook: string; since: string; until?: string };

  range(messages.command("recover").description("Schedule again, paced, every message whose delivery to the consumer ended in Failure")).action(
    (options: RangeOptions) =>
      withContext(async (ctx) => printJson(await recoverFailed(ctx, asId<ClientId>(options.client), asId<ConsumerId>(options.webhook), options))),
  );

  range(messages.command("replay").description("Send, paced, the messages the consumer's current filters match but that it never got")).action(
    (options: RangeOptions) =>
      withContext(async (ctx) => printJson(await replayMissed(ctx, asId<ClientId>(options.client), asId<ConsumerId>(options.webhook), options))),
  );

  messages
    .command("retry-now")
    .description("Make the consumer's deliveries still waiting for their next attempt (Sending, Attempting) due now, paced like recover")
    .addOption(clientOption)
    .requiredOption("--webhook <webhookId>", "(required) the consumer")
    .action((options: { client: string; webhook: string }) =>
      withContext(async (ctx) => printJson(await retryPendingNow(ctx, asId<ClientId>(options.client), asId<ConsumerId>(options.webhook)))),
    );
}
