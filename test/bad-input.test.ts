import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { MAX_DESTINATION_URL_LENGTH } from "../src/constants/limits.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { basicAuth, startTestServer, type TestServer } from "./support/server.ts";

/**
 * Throws a few hundred malformed requests at the API. The generator is
 * seeded, so a failure names its seed and case number and reproduces exactly
 * (HOOKLINE_FUZZ_SEED picks another seed to explore further).
 */
const SEED = Number(process.env.HOOKLINE_FUZZ_SEED ?? 0x5eed_cafe);
const CASES = 480;

/** mulberry32: small, fast and the same on every platform. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const text = (length: number, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789") => Array.from({ length }, () => pick([...alphabet])).join("");
  return { next, int, pick, text };
}
type Random = ReturnType<typeof generator>;

interface BadRequest {
  label: string;
  method: string;
  path: string;
  /** A raw body (sent as is) or a value sent as JSON. */
  body?: { raw: string | Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> } | { json: unknown };
  contentType?: string;
  /** The status expected, when the input calls for a particular one; otherwise any 4xx. */
  status?: number;
  /** Text the error must contain. */
  errorIncludes?: string;
}

let server: TestServer;
let bodyLimit: number;
/** A company, its connection and a consumer that bad requests aim at, so "nothing changed" covers updates too. */
const target = { companyId: "", connectionId: "", webhookId: "" };

const JSON_TYPE = "application/json";
// Allowed by the test server's destination policy, so only the bad part of a request can be what refuses it.
const LOOPBACK_URL = "http://127.0.0.1:9/hooks";

/** Endpoints taking a JSON body, with a body each accepts, for corrupting. */
const jsonEndpoints = (): Array<{ method: string; path: string; valid: Record<string, unknown> }> => [
  { method: "POST", path: "/companies", valid: { name: "Acme", description: "d", tags: { region: "eu" } } },
  { method: "PUT", path: `/companies/${target.companyId}`, valid: { name: "Acme", tags: { region: "eu" } } },
  { method: "PATCH", path: `/companies/${target.companyId}`, valid: { name: "Acme" } },
  { method: "POST", path: `/companies/${target.companyId}/connections`, valid: { platformKey: "sand" } },
  { method: "PATCH", path: `/companies/${target.companyId}/connections/${target.connectionId}`, valid: { status: "Unlinked" } },
  {
    method: "PUT",
    path: `/companies/${target.companyId}/connections/${target.connectionId}/authorization`,
    valid: { username: "sandbox", password: "sandbox-password" },
  },
  { method: "POST", path: "/webhooks", valid: { url: LOOPBACK_URL, eventTypes: ["company.created"] } },
  { method: "POST", path: "/apiKeys", valid: { name: "ci" } },
];
const companyWrites = () => jsonEndpoints().slice(0, 3);
const listEndpoints = () => ["/companies", `/companies/${target.companyId}/connections`, "/integrations"];

// Values the validator cannot coerce into the type a field wants (it does turn 5 into "5" and "x" into ["x"]).
const notAString = [{}, { a: 1 }, [], [1, 2], [{}]];
const notAnObject = ["x", 5, true, null, [], ["a", "b"]];
const notABoolean = ["maybe", 7, {}, [1, 2], "yes"];
const FORBIDDEN_NAME_CHARACTERS = [...'<>/\\;:"#$%^*()[]{}|~`+=_', "é", "ü", "中", "🎉", "\u0001", "\u0000", "\u007f"];
// Not http(s), not a URL at all, or a private address the test server does not allow-list.
const REFUSED_URLS = [
  "ftp://127.0.0.1/hooks",
  "file:///etc/passwd",
  "javascript:alert(1)",
  "mailto:ops@example.com",
  "ws://127.0.0.1/hooks",
  "data:text/plain,hello",
  "gopher://127.0.0.1:70/",
  "127.0.0.1/hooks",
  "//127.0.0.1/hooks",
  "http//127.0.0.1/hooks",
  "",
  "http://[::1",
  "http://10.0.0.1/hooks",
  "http://169.254.169.254/latest/meta-data",
  "http://192.168.1.1/",
  `${LOOPBACK_URL}?${"a".repeat(MAX_DESTINATION_URL_LENGTH)}`,
];
const UNSUPPORTED_CONTENT_TYPES = [
  "application/xml",
  "text/xml",
  "text/html",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "application/octet-stream",
  "image/png",
  "application/vnd.api+json",
  "garbage",
];
const MALFORMED_QUERIES = [
  "name",
  "=x",
  "name=",
  "name=x&&",
  "||name=x",
  "name=x||",
  "na me=x",
  "name!x",
  "(name=x)",
  "name=x&&&&id=y",
  "💥=1",
  ">5",
  "&&",
  "||",
  "name = ",
  "~x",
];
const UNKNOWN_ORDER_BY = [
  "foo",
  "-foo",
  "--name",
  "name desc",
  "constructor",
  "__proto__",
  "toString",
  "-",
  "+name",
  "created,name",
  "NAME",
  "-hasOwnProperty",
];
const BAD_IDS = [
  "not-a-uuid",
  "1234",
  "00000000-0000-0000-0000-00000000000",
  "00000000-0000-0000-0000-0000000000000",
  "g0000000-0000-4000-8000-000000000000",
  "%00",
  "%E0%A4%A",
  "..%2F..%2Fetc%2Fpasswd",
  "%27%20OR%201%3D1%20--",
  "null",
  "undefined",
  "a".repeat(150),
];

const generators: Array<(random: Random) => BadRequest> = [
  function malformedJson(random) {
    const endpoint = random.pick(jsonEndpoints());
    const valid = JSON.stringify(endpoint.valid);
    const raw = random.pick([
      valid.slice(0, random.int(1, valid.length - 1)),
      `${valid}}`,
      valid.replace(/"/g, "'"),
      valid.replace("}", ",}"),
      "{",
      "nul",
      '{"name":"x" "tags":{}}',
      "",
      `{"name":"x","__proto__":{"polluted":true}}`,
      `{"name":"x","constructor":{"prototype":{"polluted":true}}}`,
    ]);
    return { label: "malformed JSON", method: endpoint.method, path: endpoint.path, body: { raw }, contentType: JSON_TYPE, status: 400 };
  },
  function invalidUtf8(random) {
    // Decoding would turn these into U+FFFD and store what the client never sent: a stray continuation byte, a truncated
    // sequence, an overlong encoding, a UTF-16 surrogate and a byte no UTF-8 uses.
    const invalid = random.pick([[0x80], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff]]);
    const endpoint = random.pick(jsonEndpoints());
    const valid = Buffer.from(JSON.stringify(endpoint.valid));
    const inString = valid.indexOf(':"') + 2;
    const raw = new Uint8Array(Buffer.concat([valid.subarray(0, inString), Buffer.from(invalid), valid.subarray(inString)]));
    return { label: "invalid UTF-8", method: endpoint.method, path: endpoint.path, body: { raw }, contentType: JSON_TYPE, status: 400, errorIncludes: "UTF-8" };
  },
  function wrongTypes(random) {
    const variants: Array<() => [string, string, unknown]> = [
      () => ["POST", "/companies", { name: random.pick(notAString) }],
      () => ["POST", "/companies", { name: "Acme", description: random.pick(notAString) }],
      () => ["POST", "/companies", { name: "Acme", tags: random.pick(notAnObject) }],
      () => ["PATCH", `/companies/${target.companyId}`, { tags: { region: random.pick(notAString) } }],
      () => ["PUT", `/companies/${target.companyId}`, { name: random.pick(notAString) }],
      () => ["POST", "/webhooks", { url: random.pick([...notAString, 5, true]), eventTypes: ["company.created"] }],
      () => ["POST", "/webhooks", { url: LOOPBACK_URL, eventTypes: random.pick([{}, { a: 1 }, [{}], [[1, 2]], null]) }],
      () => ["POST", "/webhooks", { url: LOOPBACK_URL, eventTypes: ["company.created"], companyTags: random.pick([{}, [{}], [[1, 2]], ["no-colon"]]) }],
      () => ["POST", "/webhooks", { url: LOOPBACK_URL, eventTypes: ["company.created"], disabled: random.pick(notABoolean) }],
      () => ["POST", `/companies/${target.companyId}/connections`, { platformKey: random.pick([...notAString, 5, true, "SAND", "sa", "sandbox"]) }],
      () => [
        "PATCH",
        `/companies/${target.companyId}/connections/${target.connectionId}`,
        { status: random.pick([5, {}, "nope", "Linked", "PendingAuth", "Unlinked "]) },
      ],
      () => ["PUT", `/companies/${target.companyId}/connections/${target.connectionId}/authorization`, { username: random.pick(notAString), password: "x" }],
      () => ["POST", "/apiKeys", { name: random.pick([...notAString, random.text(random.int(51, 200))]) }],
    ];
    const [method, path, json] = random.pick(variants)();
    return { label: "wrong types", method, path, body: { json } };
  },
  function nulCharacters(random) {
    // PostgreSQL text cannot store U+0000, so these must be refused the same way on both databases.
    const nul = "\u0000";
    const variants: Array<() => [string, string, unknown?]> = [
      () => ["POST", "/companies", { name: "Acme", description: `a${nul}b` }],
      () => ["PATCH", `/companies/${target.companyId}`, { tags: { region: `e${nul}u` } }],
      () => ["PUT", `/companies/${target.companyId}`, { name: "Acme", tags: { [`k${nul}`]: "v" } }],
      () => ["POST", "/apiKeys", { name: `key${nul}` }],
      () => ["POST", "/webhooks", { url: LOOPBACK_URL, eventTypes: ["company.created"], companyTags: [`region:${nul}`] }],
      () => [
        "PUT",
        `/companies/${target.companyId}/connections/${target.connectionId}/authorization`,
        { username: `sandbox${nul}`, password: "sandbox-password" },
      ],
      () => ["GET", `${random.pick(listEndpoints())}?query=${encodeURIComponent(`name=a${nul}`)}`],
      () => ["GET", `/companies?query=${encodeURIComponent(`region~${nul}`)}`],
    ];
    const [method, path, json] = random.pick(variants)();
    return { label: "NUL character", method, path, body: json === undefined ? undefined : { json }, status: 400 };
  },
  function arraysInsteadOfObjects(random) {
    const endpoint = random.pick(jsonEndpoints());
    const json = random.pick([[], [endpoint.valid], [endpoint.valid, endpoint.valid], [1, 2, 3], "just a string", 42, null, true]);
    return { label: "not an object", method: endpoint.method, path: endpoint.path, body: { json }, status: 400 };
  },
  function hugeBody(random) {
    const endpoint = random.pick(jsonEndpoints());
    const size = bodyLimit + random.int(1, bodyLimit);
    const raw = JSON.stringify({ ...endpoint.valid, description: "x".repeat(size) });
    // Some arrive with a Content-Length, some chunked, so the limit holds for both.
    const streamed = random.next() < 0.3;
    const bytes = new TextEncoder().encode(raw);
    const body = streamed
      ? new ReadableStream<Uint8Array<ArrayBuffer>>({
          start(controller) {
            for (let offset = 0; offset < bytes.length; offset += 64 * 1024) controller.enqueue(bytes.subarray(offset, offset + 64 * 1024));
            controller.close();
          },
        })
      : bytes;
    return {
      label: `body of ${size} bytes${streamed ? ", chunked" : ""}`,
      method: endpoint.method,
      path: endpoint.path,
      body: { raw: body },
      contentType: JSON_TYPE,
      status: 413,
    };
  },
  function badIdsInPaths(random) {
    const bad = random.pick(BAD_IDS);
    const [method, path, json] = random.pick([
      ["GET", `/companies/${bad}`],
      ["PATCH", `/companies/${bad}`, { name: "Renamed" }],
      ["DELETE", `/companies/${bad}`],
      ["GET", `/companies/${bad}/connections`],
      ["POST", `/companies/${bad}/connections`, { platformKey: "sand" }],
      ["GET", `/companies/${target.companyId}/connections/${bad}`],
      ["DELETE", `/companies/${bad}/connections/${target.connectionId}`],
      ["GET", `/webhooks/${bad}`],
      ["GET", `/webhooks/${bad}/secret`],
      ["DELETE", `/webhooks/${bad}`],
      ["DELETE", `/apiKeys/${bad}`],
    ] as Array<[string, string, unknown?]>);
    return { label: `bad id ${JSON.stringify(bad.slice(0, 40))}`, method, path, body: json === undefined ? undefined : { json } };
  },
  function unknownIds(random) {
    const unknown = `${random.text(8, "0123456789abcdef")}-0000-4000-8000-${random.text(12, "0123456789abcdef")}`;
    const [method, path] = random.pick([
      ["GET", `/companies/${unknown}`],
      ["DELETE", `/companies/${unknown}`],
      ["GET", `/companies/${target.companyId}/connections/${unknown}`],
      ["DELETE", `/companies/${target.companyId}/connections/${unknown}`],
      ["GET", `/webhooks/${unknown}/secret`],
      ["DELETE", `/webhooks/${unknown}`],
      ["DELETE", `/apiKeys/${unknown}`],
    ] as const);
    return { label: "unknown id", method, path, status: 404 };
  },
  function unknownPlatformKey(random) {
    let key = random.text(4, "abcdefghijklmnopqrstuvwxyz");
    if (key === "sand") key = "sanx";
    return random.next() < 0.5
      ? { label: "unknown platform key", method: "POST", path: `/companies/${target.companyId}/connections`, body: { json: { platformKey: key } }, status: 404 }
      : { label: "unknown integration", method: "GET", path: `/integrations/${key}`, status: 404 };
  },
  function tooManyTags(random) {
    const endpoint = random.pick(companyWrites());
    const tags = Object.fromEntries(Array.from({ length: random.int(11, 40) }, (_, index) => [`tag${index}`, "v"]));
    return {
      label: `${Object.keys(tags).length} tags`,
      method: endpoint.method,
      path: endpoint.path,
      body: { json: { ...endpoint.valid, tags } },
      status: 400,
    };
  },
  function tagKeyTooLong(random) {
    const endpoint = random.pick(companyWrites());
    const key = random.next() < 0.1 ? "" : random.text(random.int(28, 80));
    return {
      label: `tag key of ${key.length} characters`,
      method: endpoint.method,
      path: endpoint.path,
      body: { json: { ...endpoint.valid, tags: { [key]: "v" } } },
      status: 400,
    };
  },
  function tagValueTooLong(random) {
    const endpoint = random.pick(companyWrites());
    const value = random.text(random.int(101, 400));
    return {
      label: `tag value of ${value.length} characters`,
      method: endpoint.method,
      path: endpoint.path,
      body: { json: { ...endpoint.valid, tags: { region: value } } },
      status: 400,
    };
  },
  function forbiddenCompanyName(random) {
    const endpoint = random.pick(companyWrites());
    const base = random.pick(["Acme", "Bank of Dave", "Toft & Sons", ""]);
    const at = random.int(0, base.length);
    const name = base === "" && random.next() < 0.3 ? "" : `${base.slice(0, at)}${random.pick(FORBIDDEN_NAME_CHARACTERS)}${base.slice(at)}`;
    return {
      label: `company name ${JSON.stringify(name)}`,
      method: endpoint.method,
      path: endpoint.path,
      body: { json: { ...endpoint.valid, name } },
      status: 400,
    };
  },
  function unknownEventTypes(random) {
    const unknown = random.pick([
      `company.${random.text(6)}`,
      `nope-${random.text(5)}.write.successful`,
      "connection.*",
      "COMPANY.CREATED",
      "company",
      "invoices.write",
      `${random.text(8)}`,
    ]);
    const eventTypes = random.next() < 0.5 ? [unknown] : ["company.created", unknown];
    return {
      label: `event types ${JSON.stringify(eventTypes)}`,
      method: "POST",
      path: "/webhooks",
      body: { json: { url: LOOPBACK_URL, eventTypes } },
      status: 400,
      errorIncludes: "connection.failed",
    };
  },
  function refusedConsumerUrl(random) {
    const url = random.pick(REFUSED_URLS);
    return {
      label: `consumer url ${JSON.stringify(url)}`,
      method: "POST",
      path: "/webhooks",
      body: { json: { url, eventTypes: ["company.created"] } },
      status: 400,
    };
  },
  function unsupportedContentType(random) {
    const endpoint = random.pick(jsonEndpoints());
    const contentType = random.pick(UNSUPPORTED_CONTENT_TYPES);
    return {
      label: `content type ${contentType}`,
      method: endpoint.method,
      path: endpoint.path,
      body: { raw: JSON.stringify(endpoint.valid) },
      contentType,
      status: 415,
    };
  },
  function badPaging(random) {
    const [parameter, value] = random.pick([
      ["pageSize", "0"],
      ["pageSize", "6000"],
      ["pageSize", "5001"],
      ["pageSize", "-1"],
      ["pageSize", "ten"],
      ["pageSize", "1.5"],
      ["pageSize", ""],
      ["page", "0"],
      ["page", "-3"],
      ["page", "first"],
      ["page", "2.5"],
      ["page", "99999999999"],
    ] as const);
    return { label: `${parameter}=${value}`, method: "GET", path: `${random.pick(listEndpoints())}?${parameter}=${encodeURIComponent(value)}`, status: 400 };
  },
  function malformedQuery(random) {
    const query = random.pick(MALFORMED_QUERIES);
    return { label: `query ${JSON.stringify(query)}`, method: "GET", path: `${random.pick(listEndpoints())}?query=${encodeURIComponent(query)}`, status: 400 };
  },
  function tooManyQueryConditions(random) {
    // On companies each tag condition is a subquery: hundreds of them once took PostgreSQL minutes to plan and SQLite past its expression depth.
    const count = random.int(21, 400);
    const query = Array.from({ length: count }, (_, index) => `tag${index}=v`).join(random.pick(["&&", "||"]));
    return { label: `query of ${count} conditions`, method: "GET", path: `/companies?query=${encodeURIComponent(query)}`, status: 400 };
  },
  function unknownOrderBy(random) {
    const orderBy = random.pick(UNKNOWN_ORDER_BY);
    return {
      label: `orderBy ${JSON.stringify(orderBy)}`,
      method: "GET",
      path: `${random.pick(listEndpoints())}?orderBy=${encodeURIComponent(orderBy)}`,
      status: 400,
    };
  },
];

/** Long enough for any honest answer; a request that takes longer is itself a finding (a query the database chokes on). */
const REQUEST_TIMEOUT_MS = 10_000;

async function send(request: BadRequest, where: string): Promise<{ status: number; text: string; headers: Headers }> {
  const headers: Record<string, string> = { authorization: basicAuth(server.apiKey) };
  let body: string | Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  if (request.body && "json" in request.body) {
    body = JSON.stringify(request.body.json);
    headers["content-type"] = JSON_TYPE;
  } else if (request.body) {
    body = request.body.raw;
    if (request.contentType !== undefined) headers["content-type"] = request.contentType;
  }
  const init: RequestInit & { duplex?: "half" } = { method: request.method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
  if (body instanceof ReadableStream) init.duplex = "half";
  try {
    const response = await fetch(`${server.baseUrl}${request.path}`, init);
    return { status: response.status, text: await response.text(), headers: response.headers };
  } catch (error) {
    throw new Error(`${where}: no answer (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
}

/** What the fuzzing must leave exactly as it was, read the way a user would (and messages from the outbox table). */
async function snapshot() {
  const companies = await server.api("GET", "/companies?pageSize=5000");
  const consumers = await server.api("GET", "/webhooks");
  const keys = await server.api("GET", "/apiKeys");
  const { count } = await server.hookline.ctx.store.db
    .selectFrom("messages")
    .select((eb) => eb.fn.countAll<number>().as("count"))
    .executeTakeFirstOrThrow();
  return {
    companyCount: companies.body.totalResults,
    companies: companies.body.results,
    consumerCount: consumers.body.results.length,
    consumers: consumers.body.results,
    apiKeyCount: keys.body.results.length,
    messageCount: Number(count),
  };
}

before(async () => {
  server = await startTestServer();
  bodyLimit = server.hookline.http!.initialConfig.bodyLimit!;
  const company = await server.api("POST", "/companies", { name: "Fuzz Target", tags: { region: "eu" } });
  target.companyId = company.body.id;
  target.connectionId = (await server.api("POST", `/companies/${target.companyId}/connections`, { platformKey: "sand" })).body.id;
  target.webhookId = (await server.api("POST", "/webhooks", { url: LOOPBACK_URL, eventTypes: ["company.created"] })).body.id;
});
after(() => server.close());

test(`${CASES} malformed requests (seed ${SEED}) each get a 4xx ErrorMessage and change nothing`, async () => {
  const before = await snapshot();
  assert.equal(before.companyCount, 1);
  assert.equal(before.consumerCount, 1);

  const random = generator(SEED);
  const statuses = new Map<number, number>();
  for (let index = 0; index < CASES; index++) {
    const request = generators[index % generators.length]!(random);
    const where = `seed ${SEED}, case #${index} (${request.label}): ${request.method} ${request.path.slice(0, 120)}`;
    const { status, text, headers } = await send(request, where);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);

    assert.ok(status < 500, `${where} answered ${status}: ${text.slice(0, 300)}`);
    assert.ok(status >= 400, `${where} was accepted with ${status}: ${text.slice(0, 300)}`);
    if (request.status !== undefined) assert.equal(status, request.status, `${where}: ${text.slice(0, 300)}`);

    let body: any;
    assert.doesNotThrow(() => (body = JSON.parse(text)), `${where}: the body is JSON (${text.slice(0, 200)})`);
    assertErrorMessage({ status, body, headers }, status, where);
    assert.ok(body.validation === null || Array.isArray(body.validation.errors), `${where}: validation`);
    if (request.errorIncludes !== undefined)
      assert.ok(body.error.includes(request.errorIncludes), `${where}: error lists ${request.errorIncludes}: ${body.error}`);
  }

  assert.deepEqual(await snapshot(), before, `seed ${SEED}: the malformed requests changed nothing`);
  // Each kind of answer the API has for bad input turned up, so no generator silently stopped producing its case.
  for (const status of [400, 404, 413, 415]) assert.ok(statuses.has(status), `seed ${SEED}: some case answered ${status} (${JSON.stringify([...statuses])})`);
});

test("a consumer URL longer than the limit is a 400 on create and on update, and changes nothing", async () => {
  const long = `${LOOPBACK_URL}?${"a".repeat(MAX_DESTINATION_URL_LENGTH)}`;
  const before = (await server.api("GET", "/webhooks")).body;
  assertErrorMessage(await server.api("POST", "/webhooks", { url: long, eventTypes: ["company.created"] }), 400, "create", /at most 2048 characters/);
  assert.deepEqual((await server.api("GET", "/webhooks")).body, before, "no consumer was created");
  const created = await server.api("POST", "/webhooks", { url: LOOPBACK_URL, eventTypes: ["company.created"] });
  assertErrorMessage(await server.api("PATCH", `/webhooks/${created.body.id}`, { url: long }), 400, "update", /at most 2048 characters/);
  assert.equal((await server.api("GET", `/webhooks/${created.body.id}`)).body.url, LOOPBACK_URL, "the URL is unchanged");
  await server.api("DELETE", `/webhooks/${created.body.id}`);
});

test("an unknown property is named in the 400, with the properties the body may have", async () => {
  const created = await server.api("POST", "/webhooks", { url: LOOPBACK_URL, eventTypes: ["company.created"] });
  const answer = await server.api("PATCH", `/webhooks/${created.body.id}`, { urll: "http://127.0.0.1:9/x" });
  assertErrorMessage(answer, 400, "a misspelt property", /body has no property "urll"; it may have url, eventTypes/);
  assert.deepEqual(
    answer.body.validation.errors.map((error: { itemId: string; validatorName: string }) => [error.itemId, error.validatorName]),
    [["body", "propertyNames"]],
    "said once",
  );
  await server.api("DELETE", `/webhooks/${created.body.id}`);
});
