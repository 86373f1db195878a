import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { createHooklineClient } from "../client/index.ts";
import { loadConfig } from "../config.ts";
import { createApiKey, createClient } from "../domain/clients.ts";
import { startHookline } from "../server.ts";

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  return port;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The link page as a browser opens it: its form token. */
export async function openLinkPage(linkUrl: string): Promise<string> {
  const html = await (await fetch(linkUrl)).text();
  return /name="token" value="([^"]+)"/.exec(html)?.[1] ?? "";
}

/** What a browser does when the SMB presses a button of the link page: the page's form, with its token, posted from the page's origin. */
export async function pressLinkButton(linkUrl: string, button: "authorize" | "cancel", token: string): Promise<void> {
  const response = await fetch(linkUrl.replace(/\/start(\?.*)?$/, `/${button}`), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(linkUrl).origin },
    body: new URLSearchParams({ token }).toString(),
  });
  if (!response.ok) throw new Error(`${button} answered ${response.status}: ${await response.text()}`);
}

/** What a call of the typed client answered; a refusal throws, with the server's answer. */
export function answered<T>(call: string, answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data === undefined) throw new Error(`${call} answered ${answer.response.status}: ${JSON.stringify(answer.error)}`);
  return answer.data;
}

/**
 * The quickest way to watch Hookline work: a throwaway server and receiver,
 * a sandbox connection whose linking the "SMB" cancels, and the signed
 * `connection.failed` webhook that arrives, verified.
 */
export async function runDemo(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), "hookline-demo-"));
  let deliver: (webhook: { headers: IncomingMessage["headers"]; body: string }) => void = () => undefined;
  const received = new Promise<{ headers: IncomingMessage["headers"]; body: string }>((resolve) => (deliver = resolve));
  const receiver = createServer(async (request, response) => {
    const body = await readBody(request);
    response.writeHead(204).end();
    deliver({ headers: request.headers, body });
  }).listen(0, "127.0.0.1");
  await once(receiver, "listening");
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks`;

  const port = await freePort();
  const config = loadConfig({}, { databaseUrl: `sqlite:${join(directory, "demo.db")}`, port: String(port), allowedCidrs: "127.0.0.0/8", logLevel: "warn" });
  const hookline = await startHookline(config);
  try {
    const client = await createClient(hookline.ctx, "Demo lender");
    const { apiKey } = await createApiKey(hookline.ctx, client.id, "demo");
    // As a client's code would call it: over HTTP, with the typed client.
    const api = createHooklineClient({ baseUrl: config.publicUrl, apiKey });

    const consumer = answered("POST /webhooks", await api.POST("/webhooks", { body: { url: receiverUrl, eventTypes: ["connection.failed"] } }));
    console.log(`1. Subscribed ${receiverUrl} to connection.failed (consumer ${consumer.id})`);
    const company = answered("POST /companies", await api.POST("/companies", { body: { name: "Toft stores", tags: { region: "us" } } }));
    console.log(`2. Created company "${company.name}" (${company.id})`);
    const connection = answered(
      "POST /companies/{companyId}/connections",
      await api.POST("/companies/{companyId}/connections", { params: { path: { companyId: company.id } }, body: { platformKey: "sand" } }),
    );
    console.log(`3. Created a sandbox connection; the SMB would open ${connection.linkUrl}`);
    await pressLinkButton(connection.linkUrl!, "cancel", await openLinkPage(connection.linkUrl!));
    console.log("4. The SMB pressed Cancel on the link page");

    const { headers, body } = await received;
    const { key } = answered(
      "GET /webhooks/{webhookId}/secret",
      await api.GET("/webhooks/{webhookId}/secret", { params: { path: { webhookId: consumer.id! } } }),
    );
    const event = new Webhook(key!).verify(body, {
      "webhook-id": String(headers["webhook-id"]),
      "webhook-timestamp": String(headers["webhook-timestamp"]),
      "webhook-signature": String(headers["webhook-signature"]),
    });
    console.log("5. The receiver got this webhook:");
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) console.log(`   ${name}: ${headers[name]}`);
    console.log(JSON.stringify(event, null, 2));
    console.log("   Signature verified with the consumer's secret (standardwebhooks).");
  } finally {
    await hookline.close();
    receiver.close();
    rmSync(directory, { recursive: true, force: true });
  }
}
