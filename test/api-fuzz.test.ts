import assert from "node:assert/strict";
import { Agent, request as httpRequest } from "node:http";
import { test } from "node:test";
import fc from "fast-check";
import { runCli } from "./support/cli.ts";
import { assertErrorMessage } from "./support/errors.ts";
import { deeplyNested, hostileString, hostileValue, schemaArbitrary, type Schema } from "./support/json-schema-arbitrary.ts";
import { operationsOf, type Operation, type Parameter } from "./support/openapi-operations.ts";
import { firstStart, Harness, type ServeProcess } from "./support/serve-process.ts";
import { basicAuth, callApi } from "./support/server.ts";

/**
 * Property-based fuzzing of every operation the served OpenAPI document
 * describes, against a real `hookline serve` process: requests built from the
 * document's own schemas (on resources the test made) and hostile variants of
 * them. Each answer must be below 500, the process must stay up, every 4xx
 * must be an ErrorMessage, a refused request must change nothing in the
 * database, and no request naming another tenant's resource in its path or
 * body may succeed.
 *
 * HOOKLINE_FUZZ_RUNS sets how many requests a pass sends; HOOKLINE_FUZZ_SEED
 * replays (or, changed, explores) a sequence. A failure prints both and the
 * offending request.
 */
const RUNS = Number(process.env.HOOKLINE_FUZZ_RUNS ?? 1_500);
const SEED = Number(process.env.HOOKLINE_FUZZ_SEED ?? 0x0a11_f022);
/** Long enough for any honest answer on a loaded machine: longer is itself a finding (a request that ties up the server). */
const REQUEST_TIMEOUT_MS = 15_000;

type Tenant = "own" | "foreign";
type Pool = "company" | "connection" | "webhook" | "message" | "apiKey" | "header";

/** A real resource of one tenant, picked when the request is sent: the pools grow as the fuzzer creates resources. */
class Ref {
  constructor(
    readonly pool: Pool,
    readonly tenant: Tenant,
    readonly index: number,
  ) {}
}

/** A path parameter: a real resource, or text put in the path percent-encoded (`encoded`) or as it is (`raw`, for traversal and broken escapes). */
type Segment = Ref | { encoded: string } | { raw: string };

interface FuzzRequest {
  operation: string;
  method: string;
  /** The path template and what goes in each parameter. */
  path: string;
  segments: Record<string, Segment>;
  query: Array<[string, unknown]>;
  rawQuery?: string;
  headers: Record<string, string>;
  body?: { json: unknown } | { raw: Uint8Array };
  /** Instead of application/json for a body; empty sends none. */
  contentType?: string;
  /** What was done to a request made from the schemas, empty when nothing. */
  hostile: string[];
}

interface Resources {
  company: string[];
  /** `companyId/connectionId`. */
  connection: string[];
  webhook: string[];
  message: string[];
  apiKey: string[];
  header: string[];
}

const emptyResources = (): Resources => ({ company: [], connection: [], webhook: [], message: [], apiKey: [], header: [] });

/** Tables and columns the API writes while answering; what the delivery worker updates on its own (delivery states, consumer health, rate slots, usage counters) is left out. */
async function snapshot(store: Awaited<ReturnType<Harness["store"]>>): Promise<string> {
  const db = store.db;
  const count = async (table: "messages" | "deliveries" | "delivery_restarts") =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as("count"))
          .executeTakeFirstOrThrow()
      ).count,
    );
  // Read side by side: on PostgreSQL each is a round trip of its own.
  const parts = await Promise.all([
    db.selectFrom("clients").selectAll().orderBy("id").execute(),
    db.selectFrom("api_keys").select(["id", "client_id", "name", "key_hash"]).orderBy("id").execute(),
    db.selectFrom("companies").selectAll().orderBy("id").execute(),
    db.selectFrom("company_tags").selectAll().orderBy("company_id").orderBy("key").execute(),
    db.selectFrom("connections").selectAll().orderBy("id").execute(),
    db.selectFrom("connection_errors").selectAll().orderBy("id").execute(),
    db
      .selectFrom("consumers")
      .select([
        "id",
        "client_id",
        "url",
        "event_types",
        "company_tags",
        "disabled",
        "signing_secret",
        "description",
        "rate_limit",
        "previous_secrets",
        "custom_headers",
        "mtls_certificate",
        "mtls_private_key",
      ])
      .orderBy("id")
      .execute(),
    db.selectFrom("idempotency_keys").select(["client_id", "key", "request_hash"]).orderBy("client_id").orderBy("key").execute(),
    count("messages"),
    count("deliveries"),
    count("delivery_restarts"),
  ]);
  return JSON.stringify(parts);
}

/** Bytes of `text` percent-encoded except RFC 3986's unreserved characters: lone surrogates and all reach the server as UTF-8. */
const percentEncode = (text: string) =>
  [...Buffer.from(text, "utf8")]
    .map((byte) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`))
    .join("");

const headerBytes = (text: string) =>
  Buffer.from(text, "utf8")
    .toString("latin1")
    .replace(/[^\t\x20-\x7e\x80-\xff]/g, "");

/** Traversal, broken escapes and separators, put in a path as they are. */
const RAW_SEGMENTS = [
  "..",
  "../..",
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e",
  "%2E%2E%2F",
  ".",
  "%",
  "%ff",
  "%fe%ff",
  "%c3%28",
  "%e0%a4%a",
  "%00",
  "%0a",
  "a%2Fb",
  ";",
  "*",
  "~",
  "%252e%252e",
  "..;",
  "%u002e",
];
/** Query strings that are not name=value pairs, or name the same parameter twice. */
const RAW_QUERIES = [
  "&&&",
  "=",
  "==1",
  "page",
  "page=1&page=2",
  "pageSize=1&pageSize=5000&pageSize=0",
  "page[]=1",
  "pageSize[a]=1",
  "query=%ff",
  "query=%",
  "orderBy=%00",
  "a=%zz",
  "limit=1&limit=2",
  "cursor=%c3%28",
  "eventType=%00&eventType=",
  "query=name%3Dx%26%26",
  "since=2024-01-01&since=2025-01-01",
];
const ORDER_FIELDS = ["id", "name", "createdDate", "modifiedDate", "status", "integrationKey", "key", "sourceType", "__proto__", "constructor", "region"];
const QUERY_KEYS = ["id", "name", "region", "status", "integrationKey", "key", "sourceType", "sourceId", "__proto__", ""];
const CONTENT_TYPES = [
  "text/plain",
  "application/xml",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/json; charset=latin1",
  "application/json; charset=utf-16",
  "application/jsonx",
  "",
  "*/*",
  "application/merge-patch+json",
];

test(
  `${RUNS} requests from the OpenAPI document (seed ${SEED}): no 5xx, no exit, ErrorMessage 4xx that change nothing`,
  { timeout: 10 * 60_000 },
  async (t) => {
    const harness = new Harness(t);
    const database = await harness.database();
    const receiver = await harness.receiver();
    // Consumers point only at this receiver; the defaults keep HOOKLINE_ALLOWED_CIDRS at 127.0.0.0/8, so nothing else is reachable.
    const { server, api, apiKey } = await firstStart(harness, database.url);
    const store = await harness.store(database.url);
    const foreignKey = JSON.parse((await runCli(database.url, "clients", "create", "Foreign tenant")).stdout).apiKey as string;
    const foreignApi = (method: string, path: string, body?: unknown) => callApi(server.baseUrl, foreignKey, method, path, body);

    const document = (await callApi(server.baseUrl, null, "GET", "/openapi.json")).body;
    const operations = operationsOf(document);
    const catalog = (await api("GET", "/events/catalog")).body.results as Array<{
      eventType: string;
      publishable: boolean;
      schema: Schema;
      example: { payload: unknown };
      replacedBy?: string[];
    }>;
    const eventTypes = catalog.map((entry) => entry.eventType.replace("{dataType}", "invoices"));
    const platformKeys = ((await api("GET", "/integrations")).body.results as Array<{ key: string }>).map((integration) => integration.key);

    const resources: Record<Tenant, Resources> = { own: emptyResources(), foreign: emptyResources() };
    for (const [tenant, call] of [
      ["own", api],
      ["foreign", foreignApi],
    ] as const) {
      const pool = resources[tenant];
      const company = await call("POST", "/companies", { name: `Fuzz ${tenant}`, tags: { region: "eu" } });
      pool.company.push(company.body.id);
      const connection = await call("POST", `/companies/${company.body.id}/connections`, { platformKey: "sand" });
      pool.connection.push(`${company.body.id}/${connection.body.id}`);
      const consumer = await call("POST", "/webhooks", { url: receiver.url, eventTypes: ["company.created", "read.completed"] });
      pool.webhook.push(consumer.body.id);
      await call("PUT", `/webhooks/${consumer.body.id}/headers`, { headers: { "x-fuzz": "1" } });
      pool.header.push("x-fuzz");
      const payload = structuredClone(catalog.find((entry) => entry.eventType === "read.completed")!.example.payload) as { referenceCompany: { id: string } };
      payload.referenceCompany.id = company.body.id;
      const published = await call("POST", "/events", { eventType: "read.completed", companyId: company.body.id, payload });
      assert.equal(published.status, 201, JSON.stringify(published.body));
      pool.message.push(published.body.id);
      // A key the fuzzer may delete; the one it authenticates with stays out of the pool.
      pool.apiKey.push((await call("POST", "/apiKeys", { name: "disposable" })).body.id);
    }
    t.after(() => receiver.close());

    const ref = (pool: Pool): fc.Arbitrary<Ref | string> =>
      fc.oneof(
        { arbitrary: fc.nat().map((index) => new Ref(pool, "own", index)), weight: 8 },
        { arbitrary: fc.nat().map((index) => new Ref(pool, "foreign", index)), weight: 1 },
        { arbitrary: fc.uuid(), weight: 1 },
      );
    // Mostly events a client may publish; now and then one Hookline emits itself, which must be refused.
    const eventArbitrary = fc.oneof(
      ...catalog.map((entry) => ({
        weight: entry.publishable ? 4 : 1,
        arbitrary: fc
          .record(
            {
              eventType: fc.constant(entry.eventType.replace("{dataType}", "invoices")),
              // A legacy rule type's example is a flat alert with no payload: publishing one must be refused like any type Hookline emits.
              payload:
                entry.replacedBy === undefined
                  ? fc.oneof(fc.constant(entry.example.payload), schemaArbitrary(entry.schema.properties!.payload, { document: entry.schema }))
                  : fc.constant(entry.example),
              companyId: ref("company"),
            },
            { requiredKeys: ["eventType", "payload"] },
          )
          .map((event) => {
            // An event about a company names it twice, and the two must agree.
            const payload = event.payload as { referenceCompany?: unknown } | null;
            if (
              event.companyId === undefined ||
              payload === null ||
              typeof payload !== "object" ||
              typeof payload.referenceCompany !== "object" ||
              payload.referenceCompany === null
            )
              return event;
            return { ...event, payload: { ...payload, referenceCompany: { ...payload.referenceCompany, id: event.companyId } } };
          }),
      })),
    );
    const queryLanguage = fc
      .array(
        fc.tuple(fc.constantFrom(...QUERY_KEYS), fc.constantFrom("=", "!=", "~", ">", "<", ">=", "<="), fc.oneof(fc.string({ maxLength: 12 }), hostileString)),
        { minLength: 1, maxLength: 4 },
      )
      .chain((conditions) => fc.constantFrom("&&", "||").map((join) => conditions.map(([key, op, value]) => `${key}${op}${value}`).join(join)));
    /** Where a name means a resource, a receiver, an event or the query language, the document's plain `string` would almost never hit anything real. */
    const override = (name: string | undefined, schema: Schema): fc.Arbitrary<unknown> | undefined => {
      if (schema.properties?.eventType && schema.properties?.payload) return eventArbitrary;
      switch (name) {
        case "companyId":
          return ref("company");
        case "connectionId":
          return ref("connection");
        case "webhookId":
          return ref("webhook");
        case "messageId":
          return ref("message");
        case "apiKeyId":
          return ref("apiKey");
        case "headerName":
          // A header name is a name, not an id: another tenant's consumer may well use the same one.
          return fc.oneof(
            fc.nat().map((index) => new Ref("header", "own", index)),
            fc.string({ minLength: 1, maxLength: 20 }),
          );
        case "platformKey":
          return fc.oneof(fc.constantFrom(...platformKeys), fc.stringMatching(/^[a-z]{4}$/));
        case "url":
          return fc.webSegment().map((segment) => `${receiver.url}/${segment}`);
        case "eventType":
          return fc.oneof({ arbitrary: fc.constantFrom(...eventTypes), weight: 4 }, { arbitrary: fc.string({ maxLength: 30 }), weight: 1 });
        case "headers":
          return fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,19}$/), fc.string({ maxLength: 40 }), { maxKeys: 3 });
        case "companyTags":
          return fc.option(
            fc.array(
              fc.tuple(fc.stringMatching(/^[a-z]{1,10}$/), fc.string({ maxLength: 20 })).map(([key, value]) => `${key}:${value}`),
              { maxLength: 10 },
            ),
            { nil: null, freq: 5 },
          );
        case "Idempotency-Key":
          // A few keys used again and again, so replays and conflicts (another body, another operation) happen.
          return fc.oneof(fc.constantFrom("fuzz-key-1", "fuzz-key-2", "fuzz-key-3"), fc.stringMatching(/^[\x21-\x7e]{1,255}$/));
        case "eventTypes":
          return fc.array(fc.constantFrom(...eventTypes), { minLength: 1, maxLength: 4 });
        case "query":
          return queryLanguage;
        case "orderBy":
          return fc.tuple(fc.boolean(), fc.constantFrom(...ORDER_FIELDS)).map(([descending, field]) => `${descending ? "-" : ""}${field}`);
        case "since":
        case "until":
          return fc.oneof(
            fc.date({ min: new Date("2020-01-01"), max: new Date("2030-01-01"), noInvalidDate: true }).map((date) => date.toISOString()),
            fc.string({ maxLength: 40 }),
          );
      }
      return undefined;
    };
    const options = { document, override };

    const parameterValue = (parameter: Parameter) => schemaArbitrary(parameter.schema, options, parameter.name);
    const fromSchemas = (operation: Operation): fc.Arbitrary<FuzzRequest> => {
      const pathParameters = operation.parameters.filter((parameter) => parameter.in === "path");
      const queryParameters = operation.parameters.filter((parameter) => parameter.in === "query");
      const headerParameters = operation.parameters.filter((parameter) => parameter.in === "header");
      // A connection and its company come from one pool entry, so the pair exists.
      const segments = fc.record(
        Object.fromEntries(
          pathParameters.map((parameter) => [
            parameter.name,
            operation.path.includes("{connectionId}") && parameter.name === "companyId" ? ref("connection") : parameterValue(parameter),
          ]),
        ),
      ) as fc.Arbitrary<Record<string, unknown>>;
      const query = fc.tuple(
        ...queryParameters.map((parameter) =>
          fc.option(
            parameterValue(parameter).map((value) => [parameter.name, value] as [string, unknown]),
            { freq: 2 },
          ),
        ),
      );
      const headers = fc.tuple(
        ...headerParameters.map((parameter) =>
          fc.option(
            parameterValue(parameter).map((value) => [parameter.name.toLowerCase(), headerBytes(String(value))] as const),
            { freq: 2 },
          ),
        ),
      );
      const body = operation.body
        ? fc.option(schemaArbitrary(operation.body.schema, options), { nil: undefined, freq: operation.body.required ? 30 : 5 })
        : fc.constant(undefined);
      return fc.record({ segments, query, headers, body }).map(({ segments: chosen, query: pairs, headers: headerPairs, body: json }) => ({
        operation: operation.id,
        method: operation.method,
        path: operation.path,
        segments: Object.fromEntries(Object.entries(chosen).map(([name, value]) => [name, value instanceof Ref ? value : { encoded: String(value) }])),
        query: pairs.filter((pair) => pair !== null),
        headers: Object.fromEntries(headerPairs.filter((pair) => pair !== null)),
        body: json === undefined ? undefined : { json },
        hostile: [],
      }));
    };

    const segment: fc.Arbitrary<Segment> = fc.oneof(
      fc
        .tuple(fc.constantFrom<Pool>("company", "connection", "webhook", "message", "apiKey"), fc.nat())
        .map(([pool, index]) => new Ref(pool, "foreign", index)),
      hostileString.map((text) => ({ encoded: text })),
      fc.constantFrom(...RAW_SEGMENTS).map((raw) => ({ raw })),
    );
    const rawBody = fc
      .oneof(
        fc.constantFrom(
          "",
          "{",
          "nul",
          "[",
          '{"a":1,}',
          '{"name":"x" "tags":{}}',
          "\ufeff{}",
          '{"name":"a","name":"b"}',
          '{"__proto__":{"polluted":1}}',
          '{"constructor":{"prototype":{"polluted":1}}}',
          "1e999999",
          '"\\ud800"',
          "[".repeat(100_000),
        ),
        // Invalid UTF-8 inside a JSON string: an overlong, a lone continuation, a truncated sequence, bytes never valid.
        fc
          .constantFrom([0xc0, 0xaf], [0x80], [0xe2, 0x82], [0xff], [0xfe, 0xfe], [0xed, 0xa0, 0x80])
          .map((bytes) =>
            Buffer.concat([
              Buffer.from('{"name":"a'),
              Buffer.from(bytes),
              Buffer.from('b","eventType":"x'),
              Buffer.from(bytes),
              Buffer.from('","payload":{}}'),
            ]),
          ),
        fc.integer({ min: 257 * 1024, max: 300 * 1024 }).map((size) => `{"name":"${"x".repeat(size)}"}`),
      )
      .map((raw) => (typeof raw === "string" ? Buffer.from(raw, "utf8") : raw));
    /** A change that makes a request from the schemas wrong in one way, named for the failure report. */
    const change = (label: string, apply: (request: FuzzRequest) => FuzzRequest): [string, (request: FuzzRequest) => FuzzRequest] => [label, apply];
    const mutation: fc.Arbitrary<[string, (request: FuzzRequest) => FuzzRequest]> = fc.oneof(
      fc.tuple(fc.nat(), segment).map(([which, value]) =>
        change(`path parameter ${JSON.stringify(value)}`, (request: FuzzRequest): FuzzRequest => {
          const names = Object.keys(request.segments);
          return names.length === 0 ? request : { ...request, segments: { ...request.segments, [names[which % names.length]!]: value } };
        }),
      ),
      fc
        .tuple(
          fc.oneof(
            fc.constantFrom("page", "pageSize", "query", "orderBy", "limit", "cursor", "since", "until", "status", "eventType", "companyId", "tags"),
            fc.string({ maxLength: 10 }),
          ),
          fc.oneof(hostileString, fc.jsonValue({ maxDepth: 1 }).map(String)),
        )
        .map(([name, value]) =>
          change(`query ${name}=${JSON.stringify(value).slice(0, 60)}`, (request: FuzzRequest): FuzzRequest => ({
            ...request,
            query: [...request.query.filter(([existing]) => existing !== name), [name, value]],
          })),
        ),
      fc.constantFrom(...RAW_QUERIES).map((raw) => change(`raw query ${raw}`, (request: FuzzRequest): FuzzRequest => ({ ...request, rawQuery: raw }))),
      fc
        .tuple(
          fc.oneof(
            fc.constantFrom(
              "name",
              "tags",
              "url",
              "eventTypes",
              "eventType",
              "payload",
              "companyId",
              "events",
              "headers",
              "status",
              "since",
              "disabled",
              "rateLimit",
              "privateKey",
              "certificate",
            ),
            fc.string({ maxLength: 12 }),
          ),
          hostileValue,
        )
        .map(([key, value]) =>
          change(`body.${key} = ${JSON.stringify(value)?.slice(0, 80)}`, (request: FuzzRequest): FuzzRequest => {
            const json =
              request.body && "json" in request.body && typeof request.body.json === "object" && request.body.json !== null && !Array.isArray(request.body.json)
                ? request.body.json
                : {};
            return { ...request, body: { json: { ...json, [key]: value } } };
          }),
        ),
      fc.nat().map((which) =>
        change("a body property left out", (request: FuzzRequest): FuzzRequest => {
          if (!request.body || !("json" in request.body) || typeof request.body.json !== "object" || request.body.json === null) return request;
          const keys = Object.keys(request.body.json);
          if (keys.length === 0) return request;
          const rest: Record<string, unknown> = { ...request.body.json };
          delete rest[keys[which % keys.length]!];
          return { ...request, body: { json: rest } };
        }),
      ),
      fc
        .oneof(hostileValue, deeplyNested)
        .map((value) => change(`body ${JSON.stringify(value)?.slice(0, 80)}`, (request: FuzzRequest): FuzzRequest => ({ ...request, body: { json: value } }))),
      fc
        .tuple(rawBody, fc.oneof({ arbitrary: fc.constant("application/json"), weight: 3 }, { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 1 }))
        .map(([bytes, contentType]) =>
          change(`raw body of ${bytes.length} bytes (${contentType})`, (request: FuzzRequest): FuzzRequest => ({
            ...request,
            body: { raw: bytes },
            contentType,
          })),
        ),
      fc
        .constantFrom(...CONTENT_TYPES)
        .map((contentType) =>
          change(`content type ${contentType}`, (request: FuzzRequest): FuzzRequest => ({ ...request, body: request.body ?? { json: {} }, contentType })),
        ),
      fc
        .tuple(
          fc.constantFrom("idempotency-key", "authorization", "accept", "accept-encoding", "x-correlation-id", "content-encoding", "x-forwarded-for", "host"),
          hostileString,
        )
        .map(([name, value]) =>
          change(
            `header ${name}: ${JSON.stringify(value).slice(0, 60)}`,
            // Header values travel as bytes: text outside Latin-1 goes as its UTF-8 bytes, and control characters (which HTTP forbids there, so no client sends them) are dropped.
            (request: FuzzRequest): FuzzRequest => ({ ...request, headers: { ...request.headers, [name]: headerBytes(value) } }),
          ),
        ),
      fc
        .constantFrom("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE")
        .map((method) => change(`method ${method}`, (request: FuzzRequest): FuzzRequest => ({ ...request, method }))),
    );
    const hostile = (operation: Operation) =>
      fc
        .tuple(fromSchemas(operation), fc.array(mutation, { minLength: 1, maxLength: 3 }))
        .map(([request, changes]) => changes.reduce((changed, [label, apply]) => ({ ...apply(changed), hostile: [...changed.hostile, label] }), request));
    const requests = fc
      .oneof(...operations.map((operation) => fc.oneof({ arbitrary: fromSchemas(operation), weight: 2 }, { arbitrary: hostile(operation), weight: 3 })))
      // fast-check prints a counterexample by walking it, which a body thousands of levels deep overflows.
      .map((request) =>
        Object.assign(request, { [fc.toStringMethod]: () => `${request.operation} ${request.method} ${request.path} ${request.hostile.join("; ")}` }),
      );

    /** The request as sent: resources looked up in the pools as they are now. */
    const materialize = (request: FuzzRequest) => {
      // Another tenant's id in the path or the body must find nothing; in a list's filter it just matches nothing.
      let foreign = false;
      let tracking = true;
      const value = (item: unknown): unknown => {
        if (item instanceof Ref) {
          const pool = resources[item.tenant][item.pool];
          foreign ||= tracking && item.tenant === "foreign";
          return pool.length === 0 ? "00000000-0000-4000-8000-000000000000" : pool[item.index % pool.length]!;
        }
        if (Array.isArray(item)) return item.map(value);
        const prototype = item !== null && typeof item === "object" ? Object.getPrototypeOf(item) : undefined;
        if (prototype === Object.prototype || prototype === null)
          return Object.fromEntries(Object.entries(item as object).map(([key, inner]) => [key, value(inner)]));
        return item;
      };
      let path = request.path;
      for (const [name, chosen] of Object.entries(request.segments)) {
        if (!path.includes(`{${name}}`)) continue;
        let text: string;
        if (chosen instanceof Ref) {
          const resolved = String(value(chosen));
          // A connection entry is `companyId/connectionId`: it fills both parameters of the template.
          if (chosen.pool === "connection" && name === "companyId") {
            const [companyId, connectionId] = resolved.split("/");
            path = path.replace("{companyId}", companyId!).replace("{connectionId}", connectionId!);
            continue;
          }
          text = percentEncode(resolved.includes("/") ? resolved.split("/")[1]! : resolved);
        } else text = "raw" in chosen ? chosen.raw : percentEncode(chosen.encoded);
        path = path.replace(`{${name}}`, text);
      }
      tracking = false;
      const queryValue = (item: unknown) => {
        const resolved = value(item);
        return typeof resolved === "string" ? resolved : JSON.stringify(resolved);
      };
      const query =
        request.rawQuery ??
        request.query
          .flatMap(([name, item]) => (Array.isArray(item) ? item : [item]).map((one) => `${percentEncode(name)}=${percentEncode(queryValue(one))}`))
          .join("&");
      tracking = true;
      const body =
        request.body === undefined
          ? undefined
          : "json" in request.body
            ? Buffer.from(JSON.stringify(value(request.body.json)) ?? "null", "utf8")
            : request.body.raw;
      if (body !== undefined) assertLoopbackOnly(body);
      const contentType = body === undefined ? undefined : (request.contentType ?? "application/json");
      // The length is always stated: without it Node sends a GET, DELETE or TRACE body unframed, to be read as the next request.
      const headers: Record<string, string> = {
        authorization: basicAuth(apiKey),
        ...(contentType === undefined || contentType === "" ? {} : { "content-type": contentType }),
        ...(body === undefined ? {} : { "content-length": String(body.length) }),
        ...request.headers,
      };
      return { method: request.method, path: query === "" ? path : `${path}?${query}`, headers, body, foreign };
    };

    /** A consumer's url (at the top of a body) is where the server delivers: the fuzzer may name its loopback receiver and nothing else. */
    const assertLoopbackOnly = (body: Uint8Array) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(body).toString("utf8"));
      } catch {
        return;
      }
      const url = parsed !== null && typeof parsed === "object" ? (parsed as { url?: unknown }).url : undefined;
      const target = typeof url === "string" && URL.canParse(url) ? new URL(url) : undefined;
      if (target && /^(https?|wss?):$/.test(target.protocol) && !/^127\./.test(target.hostname)) {
        throw new Error(`the fuzzer made a consumer URL outside loopback, and would have sent it: ${url}`);
      }
    };

    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const send = (sent: ReturnType<typeof materialize>) =>
      new Promise<{ status: number; text: string; headers: Record<string, unknown> }>((resolve, reject) => {
        const outgoing = httpRequest(
          `${server.baseUrl}${sent.path}`,
          { method: sent.method, headers: sent.headers, agent, timeout: REQUEST_TIMEOUT_MS },
          (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("end", () => resolve({ status: response.statusCode!, text: Buffer.concat(chunks).toString("utf8"), headers: response.headers }));
            response.on("error", reject);
          },
        );
        outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
        // A server refusing an oversized body may answer before reading it all; the answer is what counts.
        let answered = false;
        outgoing.on("response", () => (answered = true));
        outgoing.on("error", (error) => (answered ? undefined : reject(error)));
        outgoing.end(sent.body);
      });

    /** Node's default limit on a request line and headers, and the server's default body limit. */
    const oversized = (sent: ReturnType<typeof materialize>) =>
      sent.path.length + Object.entries(sent.headers).reduce((size, [name, value]) => size + name.length + value.length + 4, 0) > 16 * 1024 ||
      (sent.body?.length ?? 0) > 256 * 1024;

    const harvest = (operation: string, status: number, body: any, sent: ReturnType<typeof materialize>) => {
      if (status >= 300 || body === null || typeof body !== "object") return;
      const own = resources.own;
      if (operation === "create-company" && typeof body.id === "string") own.company.push(body.id);
      if (operation === "create-connection" && typeof body.id === "string") own.connection.push(`${sent.path.split("/")[2]}/${body.id}`);
      if (operation === "create-webhook-consumer" && typeof body.id === "string") own.webhook.push(body.id);
      if (operation === "create-api-key" && typeof body.id === "string") own.apiKey.push(body.id);
      if (operation === "publish-event" && typeof body.id === "string") own.message.push(body.id);
    };

    const tally = new Map<string, Map<number, number>>();
    let before = await snapshot(store);
    let run = 0;
    const describe = (request: FuzzRequest, sent: ReturnType<typeof materialize>, status: number | string, text: string) =>
      [
        `seed ${SEED}, request #${run} (replay: HOOKLINE_FUZZ_SEED=${SEED} HOOKLINE_FUZZ_RUNS=${run + 1})`,
        `${request.operation}${request.hostile.length > 0 ? ` made hostile by: ${request.hostile.join("; ")}` : " from the schemas"}`,
        `${sent.method} ${sent.path.slice(0, 2_000)}`,
        `headers: ${JSON.stringify({ ...sent.headers, authorization: "<the tenant's key>" })}`,
        `body: ${sent.body === undefined ? "none" : JSON.stringify(Buffer.from(sent.body).toString("utf8").slice(0, 2_000))}`,
        `answered: ${status} ${text.slice(0, 1_000)}`,
        `server output (last lines): ${server.logs().slice(-3_000)}`,
      ].join("\n");

    await fc.assert(
      fc.asyncProperty(requests, async (request) => {
        run++;
        assertRunning(server, "before the request");
        const sent = materialize(request);
        let answer: Awaited<ReturnType<typeof send>>;
        try {
          answer = await send(sent);
        } catch (error) {
          // Past a size limit the server answers 413 or 431 and closes the connection while a large body is still being written: the
          // client may see the close before the answer. That is a refusal too, if the process lives on and nothing changed.
          const code = (error as NodeJS.ErrnoException).code;
          if (!server.running || !oversized(sent) || (code !== "EPIPE" && code !== "ECONNRESET"))
            throw new Error(describe(request, sent, "no answer", String(error)));
          if ((await snapshot(store)) !== before) throw new Error(`an oversized request changed the database\n${describe(request, sent, code, "")}`);
          return;
        }
        const { status, text } = answer;
        const perOperation = tally.get(request.operation) ?? new Map<number, number>();
        perOperation.set(status, (perOperation.get(status) ?? 0) + 1);
        tally.set(request.operation, perOperation);
        const failure = (what: string) => new Error(`${what}\n${describe(request, sent, status, text)}`);

        if (!server.running) throw failure("the server process exited");
        if (status >= 500) throw failure(`a ${status} answer`);
        if (sent.foreign && status < 300) throw failure("another tenant's resource was reachable");
        let body: any;
        try {
          body = text === "" ? undefined : JSON.parse(text);
        } catch {
          if (status >= 400) throw failure("a 4xx whose body is not JSON");
        }
        // A HEAD answer has no body to be an ErrorMessage.
        if (status >= 400 && sent.method !== "HEAD") {
          try {
            assertErrorMessage({ status, body, headers: fetchHeaders(answer.headers) }, status);
            assert.ok(body.validation === null || Array.isArray(body.validation?.errors), "validation is null or holds a list of errors");
          } catch (error) {
            throw failure(`a ${status} that is not an ErrorMessage: ${(error as Error).message}`);
          }
        }
        if (status >= 400) {
          const after = await snapshot(store);
          if (after !== before) throw failure(`a refused request changed the database:\nbefore ${before.slice(0, 3_000)}\nafter  ${after.slice(0, 3_000)}`);
        } else {
          harvest(request.operation, status, body, sent);
          before = await snapshot(store);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );

    assertRunning(server, "after the last request");
    assert.equal((await api("GET", "/companies")).status, 200, "the server still answers its tenant");
    const summary = [...tally]
      .map(([operation, statuses]) => `${operation}: ${[...statuses].map(([status, count]) => `${status}×${count}`).join(" ")}`)
      .join("\n");
    t.diagnostic(summary);
    // Every documented operation was exercised (when the run is long enough to reach them all), and the schemas made requests the server accepts, not only ones it refuses.
    if (RUNS >= 10 * operations.length)
      for (const operation of operations) assert.ok(tally.has(operation.id), `${operation.id} was sent (seed ${SEED})\n${summary}`);
    const answered = [...tally.values()].flatMap((statuses) => [...statuses]);
    assert.ok(
      answered.some(([status]) => status < 300),
      `some requests were accepted:\n${summary}`,
    );
    assert.ok(
      answered.some(([status]) => status >= 400),
      `some requests were refused:\n${summary}`,
    );
  },
);

function assertRunning(server: ServeProcess, when: string): void {
  assert.ok(server.running, `the server process exited ${when} (seed ${SEED}):\n${server.logs().slice(-5_000)}`);
}

/** An answer's headers as fetch's Headers, which assertErrorMessage reads the x-correlation-id header from. */
function fetchHeaders(headers: Record<string, unknown>): Headers {
  const result = new Headers();
  for (const [name, value] of Object.entries(headers)) for (const item of [value].flat()) if (typeof item === "string") result.append(name, item);
  return result;
}
