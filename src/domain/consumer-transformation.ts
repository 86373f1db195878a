import { isoDate } from "../clock.ts";
import { MAX_TRANSFORMATION_CODE_LENGTH } from "../constants/limits.ts";
import { badRequest, notFound } from "../errors.ts";
import { newId, type ClientId, type ConsumerId, type MessageId } from "../ids.ts";
import { decodeSubscription } from "../storage/consumers-codec.ts";
import { findConsumer, type ConsumerRow } from "../storage/consumers.ts";
import type { AppContext } from "./context.ts";
import { changeConsumer } from "./consumers.ts";
import { catalogEventTypes, findEventType } from "./events/catalog.ts";
import type { CodeProblem } from "./transformations/protocol.ts";
import type { WebhookOutput } from "./transformations/sandbox.ts";

/** A consumer's transformation as the API shows it. */
export interface TransformationResource {
  code: string;
  enabled: boolean;
}

export interface TransformationInput {
  code: string;
  /** True when absent. */
  enabled?: boolean;
}

/** A test run: the code given, or the consumer's own, on a given event body or a catalog example. */
export interface TransformationTestInput {
  code?: string;
  /** The event body the handler gets as `webhook.payload`. */
  payload?: unknown;
  /** Without a payload: the catalog event type whose example to use; the consumer's first subscribed type by default. */
  eventType?: string;
}

export interface TransformationTestResult {
  /** What the delivery would be; null when the code failed. */
  result: WebhookOutput | null;
  /** What the handler wrote with console.log and its kin. */
  console: string[];
  error: string | null;
}

const invalidCode = (message: string) => badRequest(message, [{ itemId: "code", message, validatorName: "transformation" }]);

/** Answers a 400 with the engine's message and line when code does not compile, its top level fails, or it defines no handler. */
async function assertCompiles(ctx: AppContext, code: string): Promise<void> {
  if (code.length > MAX_TRANSFORMATION_CODE_LENGTH) throw invalidCode(`code must be at most ${MAX_TRANSFORMATION_CODE_LENGTH} characters`);
  const problem = await ctx.transformations.check(code);
  if (problem !== null) throw invalidCode(describeProblem(problem));
}

const describeProblem = ({ message, line }: CodeProblem) => (line === null ? message : `${message} (line ${line})`);

function shown(row: ConsumerRow): TransformationResource {
  if (row.transformation_code === null) throw notFound("Transformation");
  return { code: row.transformation_code, enabled: row.transformation_enabled === 1 };
}

export async function getTransformation(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<TransformationResource> {
  const row = await findConsumer(ctx.store.db, clientId, consumerId);
  if (!row) throw notFound("Webhook consumer");
  return shown(row);
}

/** The consumer's transformation, or null when it has none (the portal shows the consumer either way). */
export async function findTransformation(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<TransformationResource | null> {
  const row = await findConsumer(ctx.store.db, clientId, consumerId);
  if (!row) throw notFound("Webhook consumer");
  return row.transformation_code === null ? null : shown(row);
}

/**
 * Saves a consumer's transformation once it compiles and defines a handler.
 * Each save is a new version: the sender compiles it once, at its first
 * delivery, and deliveries already due get the new code.
 */
export async function setTransformation(
  ctx: AppContext,
  clientId: ClientId,
  consumerId: ConsumerId,
  input: TransformationInput,
): Promise<TransformationResource> {
  if (!(await findConsumer(ctx.store.db, clientId, consumerId))) throw notFound("Webhook consumer");
  await assertCompiles(ctx, input.code);
  const enabled = input.enabled ?? true;
  await changeConsumer(ctx, clientId, consumerId, (row) => ({
    transformation_code: input.code,
    transformation_enabled: enabled ? 1 : 0,
    transformation_version: row.transformation_version + 1,
  }));
  return { code: input.code, enabled };
}

/** Removes the transformation: deliveries go out as the event's body again. */
export async function deleteTransformation(ctx: AppContext, clientId: ClientId, consumerId: ConsumerId): Promise<void> {
  await changeConsumer(ctx, clientId, consumerId, (row) => {
    shown(row);
    return { transformation_code: null, transformation_enabled: 0, transformation_version: row.transformation_version + 1 };
  });
}

/**
 * Runs a transformation once, as a delivery would, and says what it made of
 * the request, what it logged and how it failed. Nothing is sent or stored.
 * A client with all its test runs under way (ctx.limits) is answered 429.
 */
export async function testTransformation(
  ctx: AppContext,
  clientId: ClientId,
  consumerId: ConsumerId,
  input: TransformationTestInput,
): Promise<TransformationTestResult> {
  const row = await findConsumer(ctx.store.db, clientId, consumerId);
  if (!row) throw notFound("Webhook consumer");
  const code = input.code ?? row.transformation_code;
  if (code === null) throw invalidCode("This webhook consumer has no transformation: give the code to test");
  const body = JSON.stringify(input.payload !== undefined ? input.payload : exampleBody(ctx, input.eventType ?? decodeSubscription(row).eventTypes[0]!));
  const outcome = await ctx.limits.transformationTests.within(clientId, () => ctx.transformations.run({ code }, row.url, body));
  return "error" in outcome
    ? { result: null, console: outcome.console, error: outcome.error }
    : { result: outcome.webhook, console: outcome.console, error: null };
}

/** The body a delivery of this event type's catalog example would carry. */
function exampleBody(ctx: AppContext, eventType: string): unknown {
  const definition = findEventType(eventType);
  if (!definition || eventType.includes("{")) {
    const message = `No catalog example for "${eventType}": give a payload, or an event type of the catalog (${catalogEventTypes().join(", ")}; name a data type for {dataType})`;
    throw badRequest(message, [{ itemId: "eventType", message, validatorName: "eventType" }]);
  }
  const example = definition.example as { payload?: unknown } | undefined;
  return { id: newId<MessageId>(), eventType, generatedDate: isoDate(ctx.clock.now()), payload: example?.payload ?? {} };
}
