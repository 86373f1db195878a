import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { cli } from "./support/cli.ts";
import { recorded, subscribe } from "./support/consumers.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { createCompany, settledMessages, webhookIdOf } from "./support/messages.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

describe("retry now", () => {
  let server: TestServer;
  let receiver: Receiver;
  let healthy = false;
  let webhookId: string;
  before(async () => {
    // A retry an hour away: without retry-now a fixed receiver would wait that long for what it missed.
    server = await startTestServer({ retrySchedule: "1h", recoveryRate: "5" });
    receiver = await Receiver.start((_index, _webhook, response) => response.writeHead(healthy ? 204 : 503).end());
    webhookId = await subscribe(server, receiver.url);
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  /** The consumer's deliveries: status, attempts made, and whether an attempt is still to come. */
  const deliveries = async () =>
    (await recorded(server, webhookId)).deliveries.map((delivery) => ({
      status: delivery.status,
      attempts: delivery.attempt_count,
      pending: delivery.next_attempt_at !== null,
    }));

  test("deliveries waiting for their next attempt are made due now, paced, keeping their status and attempt count", async () => {
    for (let index = 0; index < 3; index++) await createCompany(server, `Waiting ${index}`);
    await until(
      "three first attempts failed, the next an hour away",
      deliveries,
      (rows) => rows.length === 3 && rows.every((row) => row.status === "Attempting" && row.attempts === 1 && row.pending),
    );
    healthy = true;
    const requestedAt = Date.now();
    const retried = await server.api("POST", `/webhooks/${webhookId}/retry-now`);
    assert.equal(retried.status, 202, JSON.stringify(retried.body));
    assert.deepEqual([retried.body.scheduled, retried.body.skippedPurged, retried.body.ratePerSecond], [3, 0, 5]);
    // Three at 5 per second: the last is due 2 x 200 ms after the first.
    assert.ok(Date.parse(retried.body.lastDueAt) - requestedAt >= 400, "paced at the recovery rate");

    const arrivals = (await receiver.waitFor(6)).slice(3);
    assert.equal(new Set(arrivals.map(webhookIdOf)).size, 3, "each waiting message once");
    assert.ok(arrivals[2]!.receivedAt - requestedAt >= 400, "never faster than 5 per second");
    const settled = await settledMessages(server, webhookId, 3);
    assert.deepEqual(
      settled.map((message) => message.deliveries[0].status),
      ["Success", "Success", "Success"],
    );
    const attempts = (await server.api("GET", `/webhooks/${webhookId}/messages/${settled[0].id}/attempts`)).body.results;
    assert.deepEqual(
      attempts.map((attempt: any) => [attempt.schedule, attempt.attemptNumber, attempt.statusCode]),
      [
        [1, 2, 204],
        [1, 1, 503],
      ],
      "the second attempt of the same schedule, made sooner",
    );
  });

  test("with nothing waiting it makes nothing due; the CLI does the same for the only client without --client", async () => {
    const again = await server.api("POST", `/webhooks/${webhookId}/retry-now`);
    assert.deepEqual([again.status, again.body.scheduled, again.body.lastDueAt], [202, 0, null]);

    healthy = false;
    await createCompany(server, "Waiting for the CLI");
    await until("a failed first attempt", deliveries, (rows) => rows.filter((row) => row.status === "Attempting").length === 1);
    healthy = true;
    const output = JSON.parse(await cli(server, "messages", "retry-now", "--webhook", webhookId));
    assert.equal(output.scheduled, 1);
    await until("every delivery succeeded", deliveries, (rows) => rows.length === 4 && rows.every((row) => row.status === "Success"));
  });

  test("unknown, foreign and disabled consumers are refused and nothing changes", async () => {
    assertErrorMessage(await server.api("POST", "/webhooks/00000000-0000-4000-8000-000000000000/retry-now"), 404, "unknown consumer");
    const other = await server.addClient("Other client");
    assertErrorMessage(await other.api("POST", `/webhooks/${webhookId}/retry-now`), 404, "another client's consumer");
    assert.equal((await server.api("POST", `/webhooks/${webhookId}/disable`)).status, 200);
    try {
      assertErrorMessage(await server.api("POST", `/webhooks/${webhookId}/retry-now`), 409, "disabled consumer", /enable it first/);
    } finally {
      assert.equal((await server.api("POST", `/webhooks/${webhookId}/enable`)).status, 200);
    }
    const openapi = (await server.api("GET", "/openapi.json")).body;
    assert.ok(openapi.paths["/webhooks/{webhookId}/retry-now"].post, "documented in the served OpenAPI document");
  });
});
