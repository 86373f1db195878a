import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { WAIT_MS, within } from "./support/serve-process.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
let companyId: string;
const REQUEST_TIMEOUT = "2s";

before(async () => {
  server = await startTestServer({ requestTimeout: REQUEST_TIMEOUT });
  companyId = (await server.api("POST", "/companies", { name: "Toft stores" })).body.id;
});
after(() => server.close());

/** The ErrorMessage at the end of a raw HTTP answer, with its status line. */
function parseAnswer(raw: string): { statusLine: string; headers: string; body: any } {
  const [head, body] = raw.split("\r\n\r\n", 2) as [string, string];
  return { statusLine: head.split("\r\n")[0]!, headers: head.toLowerCase(), body: JSON.parse(body) };
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
  try {
    await within(once(socket, "close"), () => `the server did not close the connection; it answered ${JSON.stringify(answer)}`);
  } finally {
    stop();
  }
  return answer;
}

function assertErrorMessage(body: any, status: number): void {
  assert.equal(body.statusCode, status);
  assert.equal(body.service, "PublicApi");
  assert.ok(typeof body.error === "string" && body.error.length > 0);
  assert.ok(typeof body.correlationId === "string" && body.correlationId.length > 0);
  assert.equal(typeof body.canBeRetried, "string");
  assert.equal(body.detailedErrorCode, 0);
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
  const { statusLine, headers, body } = parseAnswer(answer);
  assert.equal(statusLine, "HTTP/1.1 408 Request Timeout");
  assert.match(headers, /content-type: application\/json/);
  assertErrorMessage(body, 408);
  assert.match(headers, new RegExp(`x-correlation-id: ${body.correlationId}`));
  const connections = await server.api("GET", `/companies/${companyId}/connections`);
  assert.equal(connections.body.totalResults, 0, "the cut-off request created no connection");
});

test("bytes that are not HTTP are a 400 in the ErrorMessage shape, and the connection is closed", async () => {
  const answer = await rawExchange("HELLO THERE\r\n\r\n");
  const { statusLine, body } = parseAnswer(answer);
  assert.equal(statusLine, "HTTP/1.1 400 Bad Request");
  assertErrorMessage(body, 400);
});

test("headers beyond the size limit are a 431 in the ErrorMessage shape", async () => {
  const maxHeaderBytes = 16 * 1024;
  const response = await fetch(`${server.baseUrl}/companies`, {
    headers: { authorization: "Basic x", "x-padding": "a".repeat(maxHeaderBytes) },
    signal: AbortSignal.timeout(WAIT_MS),
  });
  assert.equal(response.status, 431);
  assertErrorMessage(await response.json(), 431);
});

test("a link form body over 1 KiB is a 413 in the ErrorMessage shape and creates nothing", async () => {
  const response = await fetch(`${server.baseUrl}/link/companies/${companyId}/connections`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `platformKey=sand&padding=${"a".repeat(1024)}`,
  });
  assert.equal(response.status, 413);
  assertErrorMessage(await response.json(), 413);
  assert.equal((await server.api("GET", `/companies/${companyId}/connections`)).body.totalResults, 0);
});
