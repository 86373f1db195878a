import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { assertErrorMessage } from "./support/errors.ts";
import { basicAuth, startTestServer, type ApiResponse, type TestServer } from "./support/server.ts";
import { until, WAIT_MS, within } from "./support/wait.ts";

let server: TestServer;
let companyId: string;
const REQUEST_TIMEOUT = "2s";

before(async () => {
  server = await startTestServer({ requestTimeout: REQUEST_TIMEOUT });
  companyId = (await server.api("POST", "/companies", { name: "Toft stores" })).body.id;
});
after(() => server.close());

/** A raw HTTP answer: its status line, and the response (status, headers, the ErrorMessage at its end). */
function parseAnswer(raw: string): { statusLine: string; response: ApiResponse } {
  const [head, body] = raw.split("\r\n\r\n", 2) as [string, string];
  const [statusLine, ...headerLines] = head.split("\r\n") as [string, ...string[]];
  const headers = new Headers(headerLines.map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()] as [string, string]));
  return { statusLine, response: { status: Number(statusLine.split(" ")[1]), headers, body: JSON.parse(body) } };
}

/**
 * Writes `head` on a raw loopback connection, lets `meanwhile` act on the socket (it returns its own stop) until
 * the server closes the connection, and returns everything the server wrote.
 */
async function rawExchange(head: string, meanwhile: (socket: Socket) => () => void = () => () => undefined): Promise<string> {
  const socket = connect(Number(new URL(server.baseUrl).port), "127.0.0.1");
  await once(socket, "connect");
  let answer = "";
  socket.on("data", (chunk: Buffer) => (answer += chunk.toString("utf8")));
  socket.on("error", () => undefined);
  socket.write(head);
  const stop = meanwhile(socket);
  // What `meanwhile` started (a timer writing to the socket) stops whether or not the server closed in time.
  try {
    await within(once(socket, "close"), () => `the server did not close the connection; it answered ${JSON.stringify(answer)}`);
  } finally {
    stop();
  }
  return answer;
}

/** Codat's ErrorMessage with `status`, as Hookline answers what never reached a route: detailedErrorCode 0. */
function assertLimitAnswer(response: ApiResponse, status: number, context: string): void {
  assertErrorMessage(response, status, context);
  assert.equal(response.body.detailedErrorCode, 0, `${context}: detailedErrorCode`);
}

test("a link form POST whose body trickles in is answered 408 and its connection closed before the body completes", async () => {
  const declared = 200;
  let sent = 0;
  const answer = await rawExchange(
    `POST /link/companies/${companyId}/connections HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${declared}\r\n\r\n`,
    (socket) => {
      // A byte more often than any idle timeout would notice: only a limit on the whole request stops this client.
      const trickle = setInterval(() => {
        if (!socket.destroyed && sent < declared) {
          socket.write("a");
          sent++;
        }
      }, 100);
      return () => clearInterval(trickle);
    },
  );
  assert.ok(sent < declared, `the body never completed (${sent} of ${declared} bytes sent)`);
  const { statusLine, response } = parseAnswer(answer);
  assert.equal(statusLine, "HTTP/1.1 408 Request Timeout");
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  assertLimitAnswer(response, 408, "a body that trickles in");
  const connections = await server.api("GET", `/companies/${companyId}/connections`);
  assert.equal(connections.body.totalResults, 0, "the cut-off request created no connection");
});

test("bytes that are not HTTP are a 400 in the ErrorMessage shape, and the connection is closed", async () => {
  const answer = await rawExchange("HELLO THERE\r\n\r\n");
  const { statusLine, response } = parseAnswer(answer);
  assert.equal(statusLine, "HTTP/1.1 400 Bad Request");
  assertLimitAnswer(response, 400, "bytes that are not HTTP");
});

test("headers beyond the size limit are a 431 in the ErrorMessage shape", async () => {
  const maxHeaderBytes = 16 * 1024;
  const response = await fetch(`${server.baseUrl}/companies`, {
    headers: { authorization: "Basic x", "x-padding": "a".repeat(maxHeaderBytes) },
    signal: AbortSignal.timeout(WAIT_MS),
  });
  assertLimitAnswer({ status: response.status, headers: response.headers, body: await response.json() }, 431, "oversized headers");
});

test("a link form body over 1 KiB is a 413 in the ErrorMessage shape and creates nothing", async () => {
  const response = await fetch(`${server.baseUrl}/link/companies/${companyId}/connections`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `platformKey=sand&padding=${"a".repeat(1024)}`,
  });
  assertLimitAnswer({ status: response.status, headers: response.headers, body: await response.json() }, 413, "an oversized link form body");
  assert.equal((await server.api("GET", `/companies/${companyId}/connections`)).body.totalResults, 0);
});

test("a client that hangs up in the middle of its body is not taken for the database being away", async () => {
  const socket = connect(Number(new URL(server.baseUrl).port), "127.0.0.1");
  await once(socket, "connect");
  socket.on("error", () => undefined);
  socket.write(
    `POST /companies HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basicAuth(server.apiKey)}\r\n` +
      `Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name": "Half`,
  );
  const ours = (line: string) => line.includes(`"remotePort":${socket.localPort}`);
  await until("the server to begin the request", async () => server.logs().split("\n").some(ours));
  const companiesBefore = (await server.api("GET", "/companies")).body.totalResults;
  socket.destroy();
  const logs = await until(
    "the server to log the hang-up",
    async () => server.logs(),
    (text) => text.includes("closed the connection before its request arrived"),
  );
  assert.doesNotMatch(logs, /database unavailable/);
  assert.equal((await server.api("GET", "/companies")).body.totalResults, companiesBefore, "nothing was created");
});
