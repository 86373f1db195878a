import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, runCli, runCliWith } from "./support/cli.ts";
import { recorded, signatureHeadersOf, subscribe } from "./support/consumers.ts";
import { withReceiver, type ReceivedWebhook } from "./support/receiver.ts";
import { startTestServer, type TestClient, type TestServer } from "./support/server.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { until } from "./support/wait.ts";

/** The body as sent, after checking its Standard Webhooks signature with the consumer's secret: the signature covers the transformed bytes. */
async function verified(client: TestClient, consumerId: string, webhook: ReceivedWebhook): Promise<any> {
  const { key } = (await client.api("GET", `/webhooks/${consumerId}/secret`)).body;
  return new Webhook(key).verify(webhook.body, signatureHeadersOf(webhook));
}

async function transform(client: TestClient, consumerId: string, code: string): Promise<void> {
  const response = await client.api("PUT", `/webhooks/${consumerId}/transformation`, { code });
  assert.equal(response.status, 200, JSON.stringify(response.body));
}

/** A consumer's attempts once its delivery is final, or has had `attempts` attempts. */
async function attemptsOf(server: TestServer, consumerId: string, attempts = 1) {
  return (
    await until(
      `${attempts} attempt(s) recorded`,
      () => recorded(server, consumerId),
      (state) => state.attempts.length >= attempts,
    )
  ).attempts;
}

// A generous time limit: the tests run on a busy machine, and a legitimate handler must not fail for want of a CPU.
const TIME_LIMIT = "300ms";

describe("transformations: the API", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ transformationTimeout: TIME_LIMIT });
  });
  after(() => server.close());

  test("code is saved, read and deleted; a consumer without any answers 404", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    assertErrorMessage(await server.api("GET", `/webhooks/${consumerId}/transformation`), 404, "none yet", /Transformation not found/);

    const code = "function handler(webhook) {\n  webhook.method = 'PUT';\n  return webhook;\n}";
    const saved = await server.api("PUT", `/webhooks/${consumerId}/transformation`, { code });
    assert.deepEqual(saved.body, { code, enabled: true });
    assert.deepEqual((await server.api("GET", `/webhooks/${consumerId}/transformation`)).body, { code, enabled: true });
    assert.deepEqual((await server.api("PUT", `/webhooks/${consumerId}/transformation`, { code, enabled: false })).body, { code, enabled: false });

    assert.equal((await server.api("DELETE", `/webhooks/${consumerId}/transformation`)).status, 204);
    assertErrorMessage(await server.api("GET", `/webhooks/${consumerId}/transformation`), 404, "deleted");
    assertErrorMessage(await server.api("DELETE", `/webhooks/${consumerId}/transformation`), 404, "deleted twice");
  });

  test("code that does not compile, or defines no handler, is a 400 with the engine's message and line, and changes nothing", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    await transform(server, consumerId, "function handler(webhook) { return webhook; }");

    const syntax = await server.api("PUT", `/webhooks/${consumerId}/transformation`, { code: "function handler(webhook) {\n  return webhook +;\n}" });
    assertErrorMessage(syntax, 400, "syntax error", /SyntaxError: .* \(line 2\)/);
    assert.equal(syntax.body.validation.errors[0].itemId, "code");
    assertErrorMessage(
      await server.api("PUT", `/webhooks/${consumerId}/transformation`, { code: "const handle = (w) => w;" }),
      400,
      "no handler",
      /no function handler/,
    );
    assertErrorMessage(
      await server.api("PUT", `/webhooks/${consumerId}/transformation`, { code: "throw new Error('at load');" }),
      400,
      "top level throws",
      /Error: at load \(line 1\)/,
    );
    assertErrorMessage(await server.api("PUT", `/webhooks/${consumerId}/transformation`, { code: "for (;;) {}" }), 400, "top level loops", /ran out of time/);
    assertErrorMessage(
      await server.api("PUT", `/webhooks/${consumerId}/transformation`, { code: "function handler(w) { return w; }", extra: 1 }),
      400,
      "unknown field",
    );
    assertErrorMessage(await server.api("PUT", `/webhooks/${consumerId}/transformation`, { enabled: true }), 400, "no code");

    assert.deepEqual((await server.api("GET", `/webhooks/${consumerId}/transformation`)).body, {
      code: "function handler(webhook) { return webhook; }",
      enabled: true,
    });
  });

  test("another client's consumer answers 404 to every transformation call", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    await transform(server, consumerId, "function handler(webhook) { return webhook; }");
    const other = await server.addClient("Other");
    const code = "function handler(webhook) { return { ...webhook, cancel: true }; }";
    assertErrorMessage(await other.api("GET", `/webhooks/${consumerId}/transformation`), 404, "GET");
    assertErrorMessage(await other.api("PUT", `/webhooks/${consumerId}/transformation`, { code }), 404, "PUT");
    assertErrorMessage(await other.api("DELETE", `/webhooks/${consumerId}/transformation`), 404, "DELETE");
    assertErrorMessage(await other.api("POST", `/webhooks/${consumerId}/transformation/test`, {}), 404, "test");
    assert.deepEqual((await server.api("GET", `/webhooks/${consumerId}/transformation`)).body.code, "function handler(webhook) { return webhook; }");
  });

  test("a client with two test runs under way is answered 429 for a third, and another client's test still runs", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    const other = await server.addClient("Other");
    const othersConsumer = (await other.api("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created"] })).body.id;
    // Each run takes the whole time limit, so five sent at once are under way together.
    const code = "function handler(webhook) { while (true) {} }";
    const answers = await Promise.all(Array.from({ length: 5 }, () => server.api("POST", `/webhooks/${consumerId}/transformation/test`, { code })));
    const refused = answers.filter((answer) => answer.status === 429);
    assert.ok(refused.length > 0, `at most two run at once: ${answers.map((answer) => answer.status).join(", ")}`);
    for (const answer of refused) assertErrorMessage(answer, 429, "a third run", /2 transformation tests running already/);
    for (const answer of answers.filter((answer) => answer.status !== 429)) assert.match(answer.body.error, /ran out of time/);
    const others = await other.api("POST", `/webhooks/${othersConsumer}/transformation/test`, { code: "function handler(webhook) { return webhook; }" });
    assert.equal(others.status, 200);
    assert.equal(others.body.error, null);
    assert.equal(
      (await server.api("POST", `/webhooks/${consumerId}/transformation/test`, { code: "function handler(webhook) { return webhook; }" })).status,
      200,
      "once they end, it may test again",
    );
  });

  test("a test run answers the result and the console output on a catalog example or a given payload, and sends nothing", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    const code = `function handler(webhook) {
  console.log("event", webhook.eventType, { company: webhook.payload.payload.id });
  return { ...webhook, method: "PUT", payload: { text: "New: " + webhook.eventType } };
}`;
    const example = await server.api("POST", `/webhooks/${consumerId}/transformation/test`, { code });
    assert.equal(example.status, 200, JSON.stringify(example.body));
    assert.deepEqual(example.body.result, { method: "PUT", url: receiver.url, payload: { text: "New: company.created" }, cancel: false });
    assert.match(example.body.console[0], /^event company\.created \{"company":"[^"]+"\}$/);
    assert.equal(example.body.error, null);

    const given = await server.api("POST", `/webhooks/${consumerId}/transformation/test`, {
      code,
      payload: { eventType: "my.type", payload: { id: "c1" } },
    });
    assert.deepEqual(given.body, {
      result: { method: "PUT", url: receiver.url, payload: { text: "New: my.type" }, cancel: false },
      console: ['event my.type {"company":"c1"}'],
      error: null,
    });

    // Without code, the saved code runs.
    await transform(server, consumerId, "function handler(webhook) { return { ...webhook, cancel: true }; }");
    assert.equal((await server.api("POST", `/webhooks/${consumerId}/transformation/test`, { eventType: "connection.created" })).body.result.cancel, true);

    const failing = await server.api("POST", `/webhooks/${consumerId}/transformation/test`, {
      code: "function handler(webhook) {\n  return webhook.payload.missing.field;\n}",
    });
    assert.equal(failing.body.result, null);
    assert.match(failing.body.error, /The handler threw: TypeError: .* \(line 2\)/);
    const uncompiled = await server.api("POST", `/webhooks/${consumerId}/transformation/test`, { code: "function handler(" });
    assert.match(uncompiled.body.error, /SyntaxError/);

    assertErrorMessage(
      await server.api("POST", `/webhooks/${consumerId}/transformation/test`, { code, eventType: "no.such.type" }),
      400,
      "unknown event type",
      /No catalog example/,
    );
    assert.equal(receiver.received.length, 0, "a test run sends nothing");
  });

  test("hostile code is contained: each run fails with its reason, and the server goes on", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    const run = async (body: string) =>
      (await server.api("POST", `/webhooks/${consumerId}/transformation/test`, { code: `function handler(webhook) {\n${body}\n}` })).body;

    assert.match((await run("for (;;) {}")).error, /ran out of time \(the limit is 300 ms\)/);
    assert.match((await run("return new ArrayBuffer(64 * 1024 * 1024);")).error, /ran out of memory \(the limit is 16 MB\)/);
    // Allocating close to the memory limit keeps the engine busy inside one operation, where it does not stop at its time limit: the guard ends it.
    assert.match((await run("const hoard = []; for (;;) hoard.push(new Array(1e5).fill(1));")).error, /ran out of time \(the limit is 300 ms\)/);
    assert.match((await run("return (function deeper() { return deeper(); })();")).error, /overflowed its stack/);
    assert.match((await run("require('fs'); return webhook;")).error, /ReferenceError: 'require' is not defined/);
    assert.match((await run("process.exit(1); return webhook;")).error, /ReferenceError: 'process' is not defined/);
    assert.match((await run("fetch('http://127.0.0.1/'); return webhook;")).error, /ReferenceError: 'fetch' is not defined/);
    assert.match((await run("setTimeout(() => {}, 1); return webhook;")).error, /ReferenceError: 'setTimeout' is not defined/);
    // The classic escape from node:vm: a function's constructor reaches the host's globals there, the engine's own here.
    assert.match((await run("return webhook.constructor.constructor('return process')().mainModule;")).error, /ReferenceError: 'process' is not defined/);
    const globals = await run(
      "return { ...webhook, payload: Object.getOwnPropertyNames(globalThis).filter((name) => /^(process|require|fetch|setTimeout|setInterval|module|Buffer|global)$/.test(name)) };",
    );
    assert.deepEqual(globals.result.payload, [], "no host global is reachable");
    assert.match((await run("return Promise.resolve(webhook);")).error, /method must be "POST" or "PUT"/);
    assert.match((await run("return { ...webhook, method: 'DELETE' };")).error, /method must be "POST" or "PUT", not "DELETE"/);
    assert.match((await run("return { ...webhook, url: 'file:///etc/passwd' };")).error, /url must be http or https/);
    assert.match((await run("return;")).error, /returned nothing/);
    assert.match((await run("return { ...webhook, payload: 'x'.repeat(300 * 1024) };")).error, /a transformed body may have at most 262144/);

    // After all that the API still answers, and the worker still delivers.
    await server.api("POST", "/companies", { name: "Still delivered" });
    await receiver.waitFor(1);
  });

  test("the CLI saves, shows, test-runs and deletes a transformation", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    const client = ["--client", server.clientId];
    const folder = mkdtempSync(join(tmpdir(), "transformation-"));
    const file = join(folder, "handler.js");
    writeFileSync(file, "function handler(webhook) {\n  console.log('from the CLI');\n  return { ...webhook, method: 'PUT' };\n}\n");
    assert.deepEqual(JSON.parse(await cli(server, "webhooks", "transformation", "set", consumerId, file, ...client)).enabled, true);
    assert.equal(
      JSON.parse(await cli(server, "webhooks", "transformation", "get", consumerId, ...client)).code,
      (await server.api("GET", `/webhooks/${consumerId}/transformation`)).body.code,
    );
    const ran = JSON.parse(
      (
        await runCliWith(
          { HOOKLINE_TRANSFORMATION_TIMEOUT: TIME_LIMIT },
          server.database.url,
          ...["webhooks", "transformation", "test", consumerId, "--event-type", "company.deleted", ...client],
        )
      ).stdout,
    );
    assert.equal(ran.error, null, JSON.stringify(ran));
    assert.deepEqual([ran.result.method, ran.result.payload.eventType, ran.console, ran.error], ["PUT", "company.deleted", ["from the CLI"], null]);

    const broken = join(folder, "broken.js");
    writeFileSync(broken, "function handler(webhook) {\n  return webhook +;\n}\n");
    await assert.rejects(runCli(server.database.url, "webhooks", "transformation", "set", consumerId, broken, ...client), (error: { stderr: string }) =>
      /SyntaxError.*\(line 2\)/.test(error.stderr),
    );
    assert.match(await cli(server, "webhooks", "transformation", "delete", consumerId, ...client), /Removed/);
    assertErrorMessage(await server.api("GET", `/webhooks/${consumerId}/transformation`), 404, "deleted from the CLI");
  });

  test("the served OpenAPI document describes the transformation endpoints", async () => {
    const { paths } = (await server.api("GET", "/openapi.json")).body;
    assert.deepEqual(Object.keys(paths["/webhooks/{webhookId}/transformation"]).sort(), ["delete", "get", "put"]);
    assert.ok(paths["/webhooks/{webhookId}/transformation/test"].post);
  });
});

describe("transformations: deliveries", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ transformationTimeout: TIME_LIMIT, retrySchedule: "100ms,100ms,100ms" });
  });
  after(() => server.close());

  test("a changed payload and PUT arrive signed over the bytes sent; a consumer without a transformation gets the event as it was", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    const plain = await withReceiver(t);
    const plainId = await subscribe(server, plain.url);
    await transform(
      server,
      consumerId,
      `function handler(webhook) {
  webhook.method = "PUT";
  webhook.payload = { text: "Company " + webhook.payload.payload.name + " created", type: webhook.eventType };
  return webhook;
}`,
    );
    await server.api("POST", "/companies", { name: "Reshaped" });
    const [webhook] = await receiver.waitFor(1);
    assert.equal(webhook!.method, "PUT");
    assert.deepEqual(await verified(server, consumerId, webhook!), { text: "Company Reshaped created", type: "company.created" });
    assert.equal(webhook!.headers["content-type"], "application/json");
    const [untouched] = await plain.waitFor(1);
    assert.equal(untouched!.method, "POST");
    assert.equal((await verified(server, plainId, untouched!)).payload.name, "Reshaped");
    const [attempt] = await attemptsOf(server, consumerId);
    assert.equal(attempt!.succeeded, 1);
    assert.equal(attempt!.status_code, 204);
  });

  test("a changed URL is where the webhook goes, and it passes the destination checks again", async (t) => {
    const receiver = await withReceiver(t);
    const elsewhere = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    await transform(server, consumerId, `function handler(webhook) { return { ...webhook, url: ${JSON.stringify(`${elsewhere.url}/moved?from=hookline`)} }; }`);
    await server.api("POST", "/companies", { name: "Moved" });
    const [webhook] = await elsewhere.waitFor(1);
    assert.equal(webhook!.path, "/hooks/moved?from=hookline");
    assert.equal((await verified(server, consumerId, webhook!)).eventType, "company.created", "the event body unchanged, signed");
    assert.equal(receiver.received.length, 0);

    // A private address the operator did not allow is refused, as the consumer's own URL would be.
    const guarded = await withReceiver(t);
    const guardedId = await subscribe(server, guarded.url);
    await transform(server, guardedId, `function handler(webhook) { return { ...webhook, url: "http://169.254.169.254/latest/meta-data/" }; }`);
    await server.api("POST", "/companies", { name: "Metadata" });
    const [refused] = await attemptsOf(server, guardedId);
    assert.equal(refused!.succeeded, 0);
    assert.match(refused!.error!, /Destination refused/);
    assert.equal(guarded.received.length, 0);
  });

  test("cancel: true records the delivery successful with no request, and says so", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    await transform(server, consumerId, `function handler(webhook) { return { ...webhook, cancel: webhook.eventType === "company.created" }; }`);
    await server.api("POST", "/companies", { name: "Cancelled" });
    const { deliveries, attempts } = await until(
      "the cancelled delivery is final",
      () => recorded(server, consumerId),
      (state) => state.deliveries[0]?.status === "Success",
    );
    assert.equal(deliveries.length, 1);
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0]!.succeeded, 1);
    assert.equal(attempts[0]!.status_code, null);
    assert.equal(attempts[0]!.error, "Cancelled by the webhook's transformation: no request was made");
    // The API shows it in the message's attempts.
    const shown = (await server.api("GET", `/webhooks/${consumerId}/messages/${deliveries[0]!.message_id}/attempts`)).body.results;
    assert.deepEqual(
      shown.map((attempt: any) => [attempt.succeeded, attempt.statusCode, attempt.error]),
      [[true, null, "Cancelled by the webhook's transformation: no request was made"]],
    );
    assert.equal(receiver.received.length, 0, "nothing was sent");
  });

  test("a handler that throws fails its attempts with the reason on the retry schedule; fixed code is used from the next attempt", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    await transform(server, consumerId, "function handler(webhook) {\n  throw new Error('not ready');\n}");
    await server.api("POST", "/companies", { name: "Retried" });
    const failed = await attemptsOf(server, consumerId, 2);
    assert.ok(failed.every((attempt) => attempt.succeeded === 0 && attempt.error === "Transformation failed: The handler threw: Error: not ready (line 2)"));
    await transform(server, consumerId, "function handler(webhook) { return { ...webhook, payload: { fixed: true } }; }");
    const [webhook] = await receiver.waitFor(1);
    assert.deepEqual(await verified(server, consumerId, webhook!), { fixed: true });
    await until(
      "Success",
      () => recorded(server, consumerId),
      (state) => state.deliveries[0]?.status === "Success",
    );
  });

  test("hostile handlers fail their own attempts; other consumers of the same event, and the worker, are not affected", async (t) => {
    const hostile = {
      loop: "function handler(webhook) { for (;;) {} }",
      memory: "function handler(webhook) { return new ArrayBuffer(64 * 1024 * 1024); }",
      hoard: "function handler(webhook) { const hoard = []; for (;;) hoard.push(new Array(1e5).fill(1)); }",
      escape: "function handler(webhook) { return webhook.constructor.constructor('return process')().exit(1); }",
      // Poisons what its own engine's code relies on: other consumers' engines are separate.
      poison: "function handler(webhook) { Object.prototype.poisoned = true; JSON.parse = () => ({}); Array.prototype.map = null; return webhook; }",
    };
    const ids: Record<string, string> = {};
    for (const [name, code] of Object.entries(hostile)) {
      const receiver = await withReceiver(t);
      ids[name] = await subscribe(server, receiver.url);
      await transform(server, ids[name]!, code);
    }
    // Their retries would hold up the next tests' transformations, which share the sandbox thread.
    t.after(() => Promise.all(Object.values(ids).map((id) => server.api("DELETE", `/webhooks/${id}`))));
    const witness = await withReceiver(t);
    const witnessId = await subscribe(server, witness.url);
    await transform(
      server,
      witnessId,
      "function handler(webhook) { return { ...webhook, payload: { poisoned: ({}).poisoned === true, mapped: [1, 2].map((n) => n * 2), parsed: JSON.parse('[1]') } }; }",
    );

    await server.api("POST", "/companies", { name: "Hostile" });
    await server.api("POST", "/companies", { name: "Second" });
    const received = await witness.waitFor(2);
    for (const webhook of received) assert.deepEqual(await verified(server, witnessId, webhook), { poisoned: false, mapped: [2, 4], parsed: [1] });

    const [loop] = await attemptsOf(server, ids.loop!);
    // (Later runs of code that just overran fail at once with the same reason, and say so.)
    assert.match(loop!.error!, /^Transformation failed: The transformation ran out of time \(the limit is 300 ms\)/);
    const [memory] = await attemptsOf(server, ids.memory!);
    assert.match(memory!.error!, /^Transformation failed: The transformation ran out of memory \(the limit is 16 MB\)/);
    const [hoard] = await attemptsOf(server, ids.hoard!);
    assert.match(hoard!.error!, /^Transformation failed: The transformation ran out of time \(the limit is 300 ms\)/);
    const [escape] = await attemptsOf(server, ids.escape!);
    assert.match(escape!.error!, /^Transformation failed: The handler threw: ReferenceError: 'process' is not defined/);
    // The poisoning consumer's own deliveries still went out: its handler returned the webhook.
    assert.equal((await attemptsOf(server, ids.poison!))[0]!.succeeded, 1);

    // Every hostile one is retried (the schedule applies) and still fails the same way: the sender thread never went down.
    const retried = await attemptsOf(server, ids.loop!, 4);
    assert.ok(retried.every((attempt) => attempt.succeeded === 0 && /ran out of time/.test(attempt.error!)));
    assert.doesNotMatch(server.logs(), /sender thread failed/);
  });

  test("code is compiled once per version, not per delivery: a new version starts afresh", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    // The top level runs when the code is compiled; a counter there shows how often that happened (state kept
    // between runs is not a documented feature: it is how this test sees the compiled code reused).
    const counting = (version: string) => `const compiledAt = Date.now(); let runs = 0;
function handler(webhook) { runs++; return { ...webhook, payload: { version: "${version}", runs, compiledAt } }; }`;
    await transform(server, consumerId, counting("first"));
    for (const name of ["One", "Two", "Three"]) {
      await server.api("POST", "/companies", { name });
      await receiver.waitFor(receiver.received.length + 1);
    }
    const first = await Promise.all(receiver.received.map((webhook) => verified(server, consumerId, webhook)));
    assert.deepEqual(
      first.map((body) => body.runs),
      [1, 2, 3],
      "one compiled engine ran all three",
    );
    assert.equal(new Set(first.map((body) => body.compiledAt)).size, 1);

    await transform(server, consumerId, counting("second"));
    await server.api("POST", "/companies", { name: "Four" });
    const [, , , fourth] = await receiver.waitFor(4);
    assert.deepEqual((({ version, runs }) => ({ version, runs }))(await verified(server, consumerId, fourth!)), { version: "second", runs: 1 });
  });

  test("a disabled transformation is not run; a deleted one neither", async (t) => {
    const receiver = await withReceiver(t);
    const consumerId = await subscribe(server, receiver.url);
    const code = "function handler(webhook) { return { ...webhook, payload: { transformed: true } }; }";
    assert.equal((await server.api("PUT", `/webhooks/${consumerId}/transformation`, { code, enabled: false })).status, 200);
    await server.api("POST", "/companies", { name: "Plain" });
    const [plain] = await receiver.waitFor(1);
    assert.equal((await verified(server, consumerId, plain!)).eventType, "company.created");

    await transform(server, consumerId, code);
    await server.api("POST", "/companies", { name: "Transformed" });
    const [, transformed] = await receiver.waitFor(2);
    assert.deepEqual(await verified(server, consumerId, transformed!), { transformed: true });

    await server.api("DELETE", `/webhooks/${consumerId}/transformation`);
    await server.api("POST", "/companies", { name: "Plain again" });
    const [, , again] = await receiver.waitFor(3);
    assert.equal((await verified(server, consumerId, again!)).payload.name, "Plain again");
  });
});
