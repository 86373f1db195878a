import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { test } from "node:test";
import { Webhook } from "standardwebhooks";
import { createHooklineClient } from "../src/client/index.ts";
import { CLI, runCli } from "./support/cli.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { firstStart, Harness } from "./support/serve-process.ts";
import { until, within } from "./support/wait.ts";

const readCompleted = { modifiedFromDate: "2024-05-01T00:00:00Z", dataTypes: [{ dataType: "invoices", recordsModified: true, status: "Complete" }] };

/** `hookline listen` as a child process, once it says it is ready: its temporary consumer and that consumer's secret. */
async function startListen(harness: Harness, apiUrl: string, apiKey: string, forwardTo: string) {
  const child = spawn(
    process.execPath,
    [CLI, "listen", "--forward-to", forwardTo, "--event-types", "read.completed", "--api-url", apiUrl, "--api-key", apiKey],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("HOOKLINE_"))),
    },
  );
  let printed = "";
  child.stderr.on("data", (chunk: Buffer) => (printed += chunk.toString("utf8")));
  const exited = once(child, "close");
  harness.onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const ready = await until(
    "listen to be ready",
    async () => /Ready! .*consumer (\S+), signing secret (whsec_\S+)\)/.exec(printed),
    (match) => match !== null,
  );
  return { child, exited, webhookId: ready![1]!, secret: ready![2]!, printed: () => printed };
}

test("hookline listen forwards a temporary consumer's deliveries over its stream to a receiver the server may not reach, signed, records the answers once and removes the consumer on Ctrl+C", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  // No loopback in the allow-list: the server refuses to send to the receiver on this machine.
  const { server, api, apiKey } = await firstStart(harness, database.url, { env: { HOOKLINE_ALLOWED_CIDRS: "" } });
  const receiver = await harness.receiver();
  receiver.respond = (index, _webhook, response) =>
    response.writeHead(index === 0 ? 200 : 500, { "content-type": "text/plain" }).end(index === 0 ? "thanks" : "broken");
  const direct = await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["read.completed"] });
  assert.equal(direct.status, 400, "a consumer aimed at the receiver is refused");

  const listen = await startListen(harness, server.baseUrl, apiKey, receiver.url);
  const { child, exited, webhookId, secret } = listen;
  const consumer = await api("GET", `/webhooks/${webhookId}`);
  assert.equal(consumer.body.url, `listen:${webhookId}`);

  const first = await api("POST", "/events", { eventType: "read.completed", payload: readCompleted });
  const second = await api("POST", "/events", { eventType: "read.completed", payload: readCompleted });
  assert.equal(second.status, 201, JSON.stringify(second.body));
  const received = await receiver.waitFor(2);

  // Signed with the consumer's secret, verified as a receiver verifies.
  const verifier = new Webhook(secret!);
  const verified = received.map((webhook) => verifier.verify(webhook.body, webhook.headers as Record<string, string>) as { id: string });
  assert.deepEqual(verified.map((event) => event.id).sort(), [first.body.id, second.body.id].sort());

  // The local answers are the attempts' results: one attempt each, the receiver's status and body.
  const client = createHooklineClient({ baseUrl: server.baseUrl, apiKey });
  const attemptsOf = async (messageId: string) =>
    (await client.GET("/webhooks/{webhookId}/messages/{messageId}/attempts", { params: { path: { webhookId: webhookId!, messageId } } })).data?.results ?? [];
  const firstId = JSON.parse(received[0]!.body).id as string;
  const secondId = JSON.parse(received[1]!.body).id as string;
  const [firstAttempts, secondAttempts] = await until(
    "both answers to be recorded",
    () => Promise.all([attemptsOf(firstId), attemptsOf(secondId)]),
    ([a, b]) => a.length > 0 && b.length > 0,
  );
  assert.equal(firstAttempts!.length, 1);
  assert.equal(secondAttempts!.length, 1);
  assert.equal(firstAttempts![0]!.statusCode, 200);
  assert.equal(secondAttempts![0]!.statusCode, 500);
  const messages = (await client.GET("/webhooks/{webhookId}/messages", { params: { path: { webhookId: webhookId! } } })).data!.results!;
  assert.deepEqual(Object.fromEntries(messages.map((message) => [message.id, message.deliveries[0]!.status])), { [firstId]: "Success", [secondId]: "Failure" });

  assert.match(listen.printed(), new RegExp(`read.completed \\[${firstId}\\] --> 200 POST ${receiver.url}`));

  child.kill("SIGINT");
  const [code] = await exited;
  assert.equal(code, 0, listen.printed());
  assert.match(listen.printed(), new RegExp(`Deleted the listen consumer ${webhookId}`));
  assertErrorMessage(await api("GET", `/webhooks/${webhookId}`), 404, "the consumer is gone");
  assert.equal(receiver.received.length, 2, "each event went to the receiver once");
});

test("a listen stream answers only for a listen consumer of the caller, and a delivery's answer is recorded once", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const { server, api, apiKey } = await firstStart(harness, database.url, { env: { HOOKLINE_ALLOWED_CIDRS: "127.0.0.0/8" } });
  const receiver = await harness.receiver();
  const http = await api("POST", "/webhooks", { url: receiver.url, eventTypes: ["read.completed"] });
  assertErrorMessage(await api("GET", `/webhooks/${http.body.id}/stream`), 400, "an HTTP consumer", /receives over HTTP/);
  assert.equal((await api("DELETE", `/webhooks/${http.body.id}`)).status, 204);
  assertErrorMessage(await api("POST", "/webhooks/listen", { eventTypes: ["no.such.type"] }), 400, "an unknown event type");
  const listen = await api("POST", "/webhooks/listen", { eventTypes: ["read.completed"] });
  assert.equal(listen.status, 201);
  assert.equal(listen.body.url, `listen:${listen.body.id}`);

  await api("POST", "/events", { eventType: "read.completed", payload: readCompleted });
  // The stream hands the waiting delivery out over Server-Sent Events.
  const firstDelivery = async () => {
    const controller = new AbortController();
    const stream = await createHooklineClient({ baseUrl: server.baseUrl, apiKey }).GET("/webhooks/{webhookId}/stream", {
      params: { path: { webhookId: listen.body.id } },
      parseAs: "stream",
      signal: controller.signal,
    });
    assert.equal(stream.response.headers.get("content-type"), "text/event-stream");
    const reader = stream.data!.getReader();
    let text = "";
    while (!text.includes("event: delivery")) text += new TextDecoder().decode((await reader.read()).value);
    const data = JSON.parse(/event: delivery\ndata: (.*)\n/.exec(text)![1]!) as { deliveryId: string; messageId: string };
    return { data, close: () => controller.abort() };
  };
  // A stream that ends before its delivery is answered loses nothing: the next stream hands it out again.
  const unanswered = await firstDelivery();
  unanswered.close();
  const { data, close: controllerAbort } = await firstDelivery();
  assert.equal(data.deliveryId, unanswered.data.deliveryId);
  const report = (body: unknown) => api("POST", `/webhooks/${listen.body.id}/stream/${data.deliveryId}`, body);
  assertErrorMessage(await report({ statusCode: 204 }), 400, "without durationMs");
  assert.equal((await report({ statusCode: 204, durationMs: 3 })).status, 204);
  assertErrorMessage(await report({ statusCode: 204, durationMs: 3 }), 400, "a second report", /already reported/);
  controllerAbort();
  const attempts = await api("GET", `/webhooks/${listen.body.id}/messages/${data.messageId}/attempts`);
  assert.equal(attempts.body.results.length, 1);
  assert.equal(receiver.received.length, 0, "nothing went over HTTP");
  assert.equal(attempts.body.results[0].statusCode, 204);
});

test("hookline listen reconnects through a server restart: it says so, keeps its consumer, forwards what waited meanwhile and what comes after, and still removes the consumer on SIGTERM", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const { server, api, apiKey } = await firstStart(harness, database.url);
  const receiver = await harness.receiver();
  const listen = await startListen(harness, server.baseUrl, apiKey, receiver.url);

  // The server stops: it ends the stream rather than wait for the CLI, which waits to reconnect instead of exiting.
  assert.equal((await server.stop()).code, 0);
  await until(
    "the CLI to say it lost the stream",
    async () => listen.printed(),
    (printed) => /Lost the stream \(the server closed the stream\); reconnecting in/.test(printed),
  );
  // Published while no server runs (the CLI writes to the database): it waits for the listen consumer.
  const waited = JSON.parse((await runCli(database.url, "events", "publish", "read.completed", "--payload", JSON.stringify(readCompleted))).stdout) as {
    id: string;
  };

  await harness.serve(database.url, { port: Number(new URL(server.baseUrl).port) });
  const [first] = await receiver.waitFor(1);
  assert.equal((JSON.parse(first!.body) as { id: string }).id, waited.id);
  assert.match(listen.printed(), new RegExp(`Reconnected: forwarding again \\(consumer ${listen.webhookId}\\)`));
  const later = await api("POST", "/events", { eventType: "read.completed", payload: readCompleted });
  const received = await receiver.waitFor(2);
  assert.equal((JSON.parse(received[1]!.body) as { id: string }).id, later.body.id);
  // Signed with the same consumer's secret throughout, and that consumer is the only one.
  const verifier = new Webhook(listen.secret);
  for (const webhook of received) verifier.verify(webhook.body, webhook.headers as Record<string, string>);
  assert.deepEqual(
    (await api("GET", "/webhooks")).body.results.map((consumer: { id: string }) => consumer.id),
    [listen.webhookId],
  );

  listen.child.kill("SIGTERM");
  const [code] = await listen.exited;
  assert.equal(code, 0, listen.printed());
  assertErrorMessage(await api("GET", `/webhooks/${listen.webhookId}`), 404, "the consumer is gone");
});

test("a listen consumer whose CLI went without deleting it is removed after HOOKLINE_LISTEN_GRACE without a stream, while a listening CLI's stays", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const { server, api, apiKey } = await firstStart(harness, database.url, { env: { HOOKLINE_LISTEN_GRACE: "3s" } });
  const receiver = await harness.receiver();
  // Made first: were its stream not marking it seen, it would go no later than the other.
  const listening = await startListen(harness, server.baseUrl, apiKey, receiver.url);
  const killed = await startListen(harness, server.baseUrl, apiKey, receiver.url);
  killed.child.kill("SIGKILL");
  await killed.exited;
  await until(
    "the killed CLI's consumer to be removed",
    async () => (await api("GET", `/webhooks/${killed.webhookId}`)).status,
    (status) => status === 404,
  );
  assert.equal((await api("GET", `/webhooks/${listening.webhookId}`)).status, 200, "the listening CLI's consumer stays");
  await api("POST", "/events", { eventType: "read.completed", payload: readCompleted });
  await receiver.waitFor(1);
  assert.doesNotMatch(listening.printed(), /Lost the stream/);
});

test("a listen consumer's newest stream takes its deliveries: an older one (a connection that died unseen) ends and takes nothing", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const { server, api, apiKey } = await firstStart(harness, database.url, { env: { HOOKLINE_LISTEN_GRACE: "2s" } });
  const listen = await api("POST", "/webhooks/listen", { eventTypes: ["read.completed"] });
  const client = createHooklineClient({ baseUrl: server.baseUrl, apiKey });
  const open = async () => {
    const connection = new AbortController();
    harness.onCleanup(async () => connection.abort());
    const stream = await client.GET("/webhooks/{webhookId}/stream", {
      params: { path: { webhookId: listen.body.id } },
      parseAs: "stream",
      signal: connection.signal,
    });
    const reader = stream.data!.getReader();
    let text = "";
    let ended = false;
    const reading = (async () => {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += new TextDecoder().decode(chunk.value);
      ended = true;
    })().catch(() => undefined);
    return { text: () => text, ended: () => ended, reading };
  };
  const older = await open();
  const newer = await open();
  // The older stream finds, at its next mark of the consumer, that it is no longer the consumer's, and ends.
  await within(older.reading, () => "the older stream to end");
  assert.ok(older.ended());
  await api("POST", "/events", { eventType: "read.completed", payload: readCompleted });
  await until(
    "the newer stream to hand the delivery out",
    async () => newer.text(),
    (text) => text.includes("event: delivery"),
  );
  assert.doesNotMatch(older.text(), /event: delivery/);
});

test("hookline listen takes a stream that went silent without closing (a dropped network) for lost, reconnects and forwards what comes after", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const { server, api, apiKey } = await firstStart(harness, database.url);
  const receiver = await harness.receiver();
  // Between the CLI and the server: a relay that can stop passing the server's bytes on while keeping the connections open.
  const relayed: Array<{ client: Socket; upstream: Socket }> = [];
  const relay = createNetServer((client) => {
    const upstream = connect(Number(new URL(server.baseUrl).port), "127.0.0.1");
    for (const socket of [client, upstream]) socket.on("error", () => undefined);
    client.pipe(upstream);
    upstream.pipe(client);
    relayed.push({ client, upstream });
  }).listen(0, "127.0.0.1");
  await once(relay, "listening");
  harness.onCleanup(async () => {
    for (const socket of relayed.flatMap(({ client, upstream }) => [client, upstream])) socket.destroy();
    relay.close();
  });
  const listen = await startListen(harness, `http://127.0.0.1:${(relay.address() as AddressInfo).port}`, apiKey, receiver.url);
  for (const { client, upstream } of relayed) {
    upstream.unpipe(client);
    upstream.pause();
  }

  await until(
    "the CLI to notice the silence",
    async () => listen.printed(),
    (printed) => /Lost the stream \(nothing heard for 5s\)/.test(printed),
  );
  await until(
    "the CLI to reconnect",
    async () => listen.printed(),
    (printed) => printed.includes("Reconnected"),
  );
  const published = await api("POST", "/events", { eventType: "read.completed", payload: readCompleted });
  const [received] = await receiver.waitFor(1);
  assert.equal((JSON.parse(received!.body) as { id: string }).id, published.body.id);
});

test("a client may hold 10 listen streams open at once: the next is answered 429 until one of them closes", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const { server, api, apiKey } = await firstStart(harness, database.url);
  const client = createHooklineClient({ baseUrl: server.baseUrl, apiKey });
  const open = async () => {
    const listen = await api("POST", "/webhooks/listen", { eventTypes: ["read.completed"] });
    const connection = new AbortController();
    harness.onCleanup(async () => connection.abort());
    const stream = await client.GET("/webhooks/{webhookId}/stream", {
      params: { path: { webhookId: listen.body.id } },
      parseAs: "stream",
      signal: connection.signal,
    });
    return { status: stream.response.status, error: stream.error, close: () => connection.abort() };
  };
  const streams = [];
  for (let index = 0; index < 10; index++) streams.push(await open());
  assert.deepEqual(
    streams.map((stream) => stream.status),
    Array(10).fill(200),
  );
  const eleventh = await open();
  assert.equal(eleventh.status, 429);
  assert.match(String(eleventh.error?.error), /10 listen streams open already/);
  streams[0]!.close();
  await until(
    "a stream to be opened again once one closed",
    async () => (await open()).status,
    (status) => status === 200,
  );
});
