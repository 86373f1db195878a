/**
 * SSRF guard: consumer URLs are checked when saved and again at every
 * connect, so a destination that is (or becomes) private is never dialled
 * unless the operator allow-listed its range. Only global unicast addresses
 * pass; IPv6 forms that lead to an IPv4 address are judged by that address.
 */
import assert from "node:assert/strict";
import { lookup as dnsLookup, V4MAPPED, type LookupAddress } from "node:dns";
import { after, before, describe, test, type TestContext } from "node:test";
import { loadConfig } from "../src/config.ts";
import { DestinationPolicy } from "../src/domain/destination-policy.ts";
import { asId, type ConsumerId } from "../src/ids.ts";
import { subscribe } from "./support/consumers.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { createCompany } from "./support/messages.ts";
import { Receiver } from "./support/receiver.ts";
import { startTestServer, withServer, type ApiResponse, type TestServer } from "./support/server.ts";
import { firstStart, Harness } from "./support/serve-process.ts";
import { until } from "./support/wait.ts";

/** A name that never resolves (RFC 6761). */
const UNRESOLVABLE = "hookline-test.invalid";
/** The answer without its correlation id, which differs at every request. */
const answerOf = ({ status, body }: ApiResponse) => ({ status, body: { ...body, correlationId: undefined } });

test("an allow-listed loopback consumer is refused at connect time once the operator removes the allow-list, and one whose host stopped resolving fails alike", async (t) => {
  const harness = new Harness(t);
  const database = await harness.database();
  const receiver = await harness.receiver();
  const env = { HOOKLINE_RETRY_SCHEDULE: "none" };
  const allowed = await firstStart(harness, database.url, { env: { ...env, HOOKLINE_ALLOWED_CIDRS: "127.0.0.0/8" } });
  const urls = {
    // localhost is a hostname, so this also proves names are resolved before they are judged.
    byName: `http://localhost:${receiver.port}/by-name`,
    byAddress: `http://127.0.0.1:${receiver.port}/by-address`,
    // An IPv4 range admits the IPv4-mapped IPv6 form of its addresses, which a dual-stack socket dials over IPv4.
    byMappedAddress: `http://[::ffff:127.0.0.1]:${receiver.port}/by-mapped-address`,
    stopsResolving: `http://localhost:${receiver.port}/stops-resolving`,
  };
  const consumerIds: Record<string, string> = {};
  for (const [name, url] of Object.entries(urls)) {
    const created = await allowed.api("POST", "/webhooks", { url, eventTypes: ["company.created"] });
    assert.equal(created.status, 201, `${url}: ${JSON.stringify(created.body)}`);
    consumerIds[name] = created.body.id;
  }
  await allowed.api("POST", "/companies", { name: "Allowed" });
  const delivered = await receiver.waitFor(4);
  assert.deepEqual(delivered.map((webhook) => webhook.path).sort(), ["/by-address", "/by-mapped-address", "/by-name", "/stops-resolving"]);
  assert.deepEqual(await allowed.server.stop(), { code: 0, signal: null });

  const store = await harness.store(database.url);
  // Its DNS record is deleted after it was saved: the stored URL now names a host that does not resolve.
  await store.db
    .updateTable("consumers")
    .set({ url: `http://${UNRESOLVABLE}:${receiver.port}/stops-resolving` })
    .where("id", "=", asId<ConsumerId>(consumerIds.stopsResolving!))
    .execute();

  const strict = await harness.serve(database.url, { env: { ...env, HOOKLINE_ALLOWED_CIDRS: "" } });
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${strict.baseUrl}${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(allowed.apiKey).toString("base64")}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  assert.equal((await api("POST", "/companies", { name: "Refused" })).status, 200);

  const failedAttempts = () => store.db.selectFrom("attempts").selectAll().where("succeeded", "=", 0).execute();
  await until("four refused attempts recorded", async () => (await failedAttempts()).length === 4 || "fewer than 4 failed attempts");
  const attempts = await failedAttempts();
  assert.equal(receiver.received.length, 4, "nothing reached the receiver after the allow-list was removed");
  assert.deepEqual(attempts.map((attempt) => attempt.consumer_id).sort(), Object.values(consumerIds).sort());
  for (const attempt of attempts) assert.equal(attempt.status_code, null);
  // A tenant must not learn from the log which names resolve inside the operator's network.
  assert.equal(new Set(attempts.map((attempt) => attempt.error)).size, 1, "one reason for refused names, refused addresses and names that do not resolve");
  assert.match(attempts[0]!.error ?? "", /refused/i);
  const created = await api("POST", "/webhooks", { url: urls.byName, eventTypes: ["company.created"] });
  assert.equal(created.status, 400, "and the same URL cannot be saved any more");
});

describe("consumer URLs must lead to global unicast addresses", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ allowedCidrs: "" });
  });
  after(() => server.close());

  const refused = [
    "http://0.0.0.0/",
    "http://100.64.0.1/",
    "http://192.0.2.1/",
    // IPv4-compatible (::/96) is refused whatever it embeds.
    "http://[::127.0.0.1]/",
    "http://[::a9fe:a9fe]/",
    "http://[::8.8.8.8]/",
    "http://[::]/",
    "http://[::1]/",
    // IPv4-mapped, NAT64 and 6to4 lead to the IPv4 address they embed.
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://[2002:0a00:0001::1]/",
    // IPv4-translated, local-use NAT64, Teredo, documentation, link-local, unique local, multicast.
    "http://[::ffff:0:7f00:1]/",
    "http://[64:ff9b:1::808:808]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://[2001:db8::1]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[ff02::1]/",
  ];
  const accepted = [
    "http://8.8.8.8/hooks",
    "http://[2606:4700:4700::1111]/hooks",
    "http://[::ffff:8.8.8.8]/hooks",
    "http://[64:ff9b::808:808]/hooks",
    "http://[2002:808:808::1]/hooks",
  ];

  test("non-global addresses of both families are refused with one answer, IPv6 forms embedding IPv4 judged by it; global ones are saved", async () => {
    const answers = await Promise.all(refused.map((url) => server.api("POST", "/webhooks", { url, eventTypes: ["company.created"] })));
    for (const [index, answer] of answers.entries()) {
      assertErrorMessage(answer, 400, refused[index]);
      assert.deepEqual(answerOf(answer), answerOf(answers[0]!), `${refused[index]} is refused like the others`);
    }
    assert.equal(answers[0]!.body.validation.errors[0].itemId, "url");
    for (const url of accepted) await subscribe(server, url);
    assert.deepEqual((await server.api("GET", "/webhooks")).body.results.map((consumer: any) => consumer.url).sort(), [...accepted].sort());
  });

  test("a host that does not resolve and one that resolves to a refused address get the same answer, on create and on update", async () => {
    const create = (host: string) => server.api("POST", "/webhooks", { url: `http://${host}/hooks`, eventTypes: ["company.created"] });
    const [unresolvable, internal] = [await create(UNRESOLVABLE), await create("localhost")];
    assertErrorMessage(unresolvable, 400, "a host that does not resolve");
    assert.deepEqual(answerOf(unresolvable), answerOf(internal));

    const consumerId = await subscribe(server, "http://8.8.4.4/hooks");
    const update = (host: string) => server.api("PATCH", `/webhooks/${consumerId}`, { url: `http://${host}/hooks` });
    const [unresolvableUpdate, internalUpdate] = [await update(UNRESOLVABLE), await update("localhost")];
    assertErrorMessage(unresolvableUpdate, 400, "an update to a host that does not resolve");
    assert.deepEqual(answerOf(unresolvableUpdate), answerOf(internalUpdate));
    assert.equal((await server.api("GET", `/webhooks/${consumerId}`)).body.url, "http://8.8.4.4/hooks", "a refused update changes nothing");
  });
});

describe("allow-listed ranges match both families", () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await Receiver.start();
  });
  after(() => receiver.close());

  /** On a server allow-listing `allowedCidrs`: the `refused` URLs cannot be saved, and a consumer at each of `urls` gets its company.created. */
  async function deliveredTo(t: TestContext, allowedCidrs: string, urls: string[], refused: string[]): Promise<void> {
    const server = await withServer(t, { allowedCidrs, retrySchedule: "none" });
    for (const url of refused) assert.equal((await server.api("POST", "/webhooks", { url, eventTypes: ["company.created"] })).status, 400, url);
    for (const url of urls) await subscribe(server, url);
    const before = receiver.received.length;
    await createCompany(server, "Allow-listed Ltd");
    const paths = (await receiver.waitFor(before + urls.length)).slice(before).map((webhook) => webhook.path);
    assert.deepEqual(paths.sort(), urls.map((url) => new URL(url).pathname).sort());
  }

  test("an IPv4 range admits the IPv4-mapped form of its addresses, not the IPv4-compatible one", async (t) => {
    await deliveredTo(
      t,
      "127.0.0.0/8",
      [`http://[::ffff:127.0.0.1]:${receiver.port}/mapped`, `http://127.0.0.1:${receiver.port}/v4`],
      [`http://[::127.0.0.1]:${receiver.port}/compatible`],
    );
  });

  test("a ::ffff: range admits the IPv4 addresses it maps, by address and by name", async (t) => {
    await deliveredTo(
      t,
      "::ffff:127.0.0.0/104",
      [`http://127.0.0.1:${receiver.port}/v4`, `http://localhost:${receiver.port}/name`],
      ["http://10.0.0.1/", "http://[::1]/"],
    );
  });
});

test("the lookup that guards connections judges IPv4-mapped answers by their IPv4 address", async () => {
  const lookup = (policy: DestinationPolicy) =>
    new Promise<string | LookupAddress[]>((resolve) =>
      policy.lookup("localhost", { family: 6, hints: V4MAPPED, all: true }, (error, addresses) => resolve(error?.code ?? addresses)),
    );
  const native = await new Promise<LookupAddress[]>((resolve, reject) =>
    dnsLookup("localhost", { family: 6, hints: V4MAPPED, all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );
  // Where localhost has only an IPv4 address the resolver answers it mapped (::ffff:127.0.0.1), as on the machines CI
  // runs on; where it has a native ::1 nothing is mapped, and the same lookups judge ::1 itself.
  const mapped = native.every((entry) => entry.address === "::ffff:127.0.0.1");
  const admitting = mapped ? [["127.0.0.0/8"], ["::ffff:127.0.0.0/104"]] : [["::1/128"]];
  for (const allowed of admitting) assert.deepEqual(await lookup(new DestinationPolicy(allowed)), native, `allowed ${allowed.join(",")}`);
  assert.equal(await lookup(new DestinationPolicy([])), "EDESTINATIONREFUSED");
  assert.equal(await lookup(new DestinationPolicy(mapped ? ["10.0.0.0/8", "::1/128"] : ["127.0.0.0/8"])), "EDESTINATIONREFUSED");
});

test("HOOKLINE_ALLOWED_CIDRS takes full CIDRs of both families and refuses anything else, naming the value", () => {
  assert.deepEqual(loadConfig({ HOOKLINE_ALLOWED_CIDRS: " 10.0.0.0/8, fd00::/8 ,::ffff:10.0.0.0/104" }).allowedCidrs, [
    "10.0.0.0/8",
    "fd00::/8",
    "::ffff:10.0.0.0/104",
  ]);
  assert.deepEqual(loadConfig({}).allowedCidrs, []);
  for (const bad of ["10/8", "10.0/16", "127.0.0.1", "10.0.0.0/33", "fd00::/129", "010.0.0.0/8", "localhost/32", "fe80::1%eth0/64"]) {
    assert.throws(
      () => loadConfig({ HOOKLINE_ALLOWED_CIDRS: `127.0.0.0/8,${bad}` }),
      (error: Error) => error.message.includes("HOOKLINE_ALLOWED_CIDRS") && error.message.includes(`"${bad}"`),
      bad,
    );
  }
});
