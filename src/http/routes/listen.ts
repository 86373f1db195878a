import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppContext } from "../../domain/context.ts";
import { createListenConsumer, openDeliveryStream, reportStreamed, type ListenInput, type LocalAnswer } from "../../domain/listen.ts";
import { asId, type ClientId, type ConsumerId, type DeliveryId } from "../../ids.ts";
import { listenConsumerBody, localAnswerBody } from "../../openapi/hookline/listen.ts";
import { pathParams } from "../schemas.ts";

type StreamParams = { webhookId: string };
type ReportParams = StreamParams & { deliveryId: string };

const clientOf = (request: FastifyRequest) => asId<ClientId>(request.client.id);

/** `hookline listen`'s endpoints: its temporary consumer, the stream of that consumer's deliveries, and their local answers. */
export function listenRoutes(app: FastifyInstance, ctx: AppContext): void {
  /** The open streams' stops: a server that stops ends them first, or it would wait for their CLIs to hang up. */
  const streams = new Set<() => void>();
  app.addHook("preClose", async () => {
    for (const stop of streams) stop();
  });

  app.post<{ Body: ListenInput }>("/webhooks/listen", { schema: { body: listenConsumerBody } }, async (request, reply) =>
    reply.status(201).send(await createListenConsumer(ctx, clientOf(request), request.body)),
  );

  app.get<{ Params: StreamParams }>("/webhooks/:webhookId/stream", { schema: { params: pathParams("webhookId") } }, async (request, reply) => {
    const clientId = clientOf(request);
    const giveBack = ctx.limits.listenStreams.take(clientId);
    let stream;
    try {
      stream = await openDeliveryStream(ctx, clientId, asId<ConsumerId>(request.params.webhookId));
    } catch (error) {
      giveBack();
      throw error;
    }
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    let open = true;
    let wake: () => void = () => undefined;
    const stop = () => {
      open = false;
      wake();
    };
    reply.raw.once("close", stop);
    streams.add(stop);
    // New events wake the stream at once; the idle interval is the fallback, as for the workers.
    const unsubscribe = await ctx.store.onWake(() => wake());
    try {
      // idleMs: the longest the stream stays silent (an idle comment follows each quiet spell), so the CLI can tell a
      // connection that died without closing.
      raw.write(`event: ready\ndata: ${JSON.stringify({ idleMs: stream.idleMs })}\n\n`);
      while (open) {
        const deliveries = await stream.next();
        // A newer stream of the consumer took over: this one's CLI reconnected without it noticing the end.
        if (deliveries === null) break;
        for (const delivery of deliveries) raw.write(`event: delivery\ndata: ${JSON.stringify(delivery)}\n\n`);
        // A CLI that stops reading is not handed more: the stream waits until what it was sent has left, or it closes.
        while (open && raw.writableNeedDrain) {
          let drained: () => void = () => undefined;
          await new Promise<void>((resolve) => {
            wake = drained = resolve;
            raw.once("drain", drained);
          });
          raw.off("drain", drained);
        }
        if (deliveries.length > 0) continue;
        // A comment line: it keeps proxies from closing an idle stream and finds a client that went away.
        raw.write(": idle\n\n");
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, stream.idleMs).unref();
        });
      }
    } catch (error) {
      request.log.warn({ err: error }, "listen stream ended by an error");
    } finally {
      giveBack();
      streams.delete(stop);
      unsubscribe();
      await stream.close();
      raw.end();
    }
  });

  app.post<{ Params: ReportParams; Body: LocalAnswer }>(
    "/webhooks/:webhookId/stream/:deliveryId",
    {
      schema: {
        params: {
          allOf: [pathParams("webhookId"), { type: "object", properties: { deliveryId: { type: "string", format: "uuid" } }, required: ["deliveryId"] }],
        },
        body: localAnswerBody,
      },
    },
    async (request, reply) => {
      const { webhookId, deliveryId } = request.params;
      await reportStreamed(ctx, clientOf(request), asId<ConsumerId>(webhookId), asId<DeliveryId>(deliveryId), request.body);
      return reply.status(204).send();
    },
  );
}
