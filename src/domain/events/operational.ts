import type { EventTypeDefinition } from "./event-type.ts";
import { insightEvents } from "./insight-events.ts";

/** Hookline's own event: a consumer was disabled because its every attempt failed for the configured period. */
export const CONSUMER_DISABLED = "webhook.consumer.disabled";

export interface ConsumerDisabledPayload {
  consumerId: string;
  url: string;
  reason: string;
  disabledAt: string;
}

const example = {
  id: "5f0a3c2e-8d4b-4a53-9b1e-2f6c7d8e9a01",
  eventType: CONSUMER_DISABLED,
  generatedDate: "2024-08-13T09:30:00.000Z",
  payload: {
    consumerId: "8a210b68-6988-11ed-a1eb-0242ac120002",
    url: "https://example.com/hooks",
    reason: "Every delivery attempt failed since 2024-08-08T09:29:41.000Z (5 days)",
    disabledAt: "2024-08-13T09:30:00.000Z",
  } satisfies ConsumerDisabledPayload,
};

/** Event types Hookline adds to the Codat catalog, about its own operation. */
export const operationalEvents: readonly EventTypeDefinition[] = [
  {
    eventType: CONSUMER_DISABLED,
    description:
      "Hookline event. A webhook consumer was disabled automatically because every attempt to deliver to it failed for the configured period (HOOKLINE_AUTO_DISABLE_AFTER, 5 days by default). It is sent to the client's other consumers that subscribe to it. Enable the consumer again (POST /webhooks/{webhookId}/enable) once its endpoint works.",
    schema: {
      title: "Webhook consumer disabled webhook",
      type: "object",
      required: ["id", "eventType", "generatedDate", "payload"],
      properties: {
        id: { type: "string", format: "uuid", description: "Unique identifier of the event" },
        eventType: { type: "string", const: CONSUMER_DISABLED },
        generatedDate: { type: "string", format: "date-time", description: "When the consumer was disabled, in UTC" },
        payload: {
          type: "object",
          required: ["consumerId", "url", "reason", "disabledAt"],
          properties: {
            consumerId: { type: "string", format: "uuid", description: "The disabled webhook consumer (its webhookId)" },
            url: { type: "string", format: "uri", description: "The consumer's URL" },
            reason: { type: "string", description: "Why Hookline disabled it" },
            disabledAt: { type: "string", format: "date-time" },
          },
        },
      },
    },
    example,
  },
  ...insightEvents,
];

/** The operational events as OpenAPI `webhooks` entries, for the served document beside Codat's. */
export const operationalWebhooks = Object.fromEntries(
  operationalEvents.map(({ eventType, description, schema, example }) => [
    eventType,
    {
      post: {
        description,
        requestBody: { content: { "application/json": { schema, examples: { [eventType]: { value: example } } } } },
        responses: { "200": { description: "Return a 200 status to indicate that the webhook was received successfully." } },
      },
    },
  ]),
);
