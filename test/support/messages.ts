import assert from "node:assert/strict";
import type { TestClient } from "./server.ts";
import { until } from "./wait.ts";

/** Every result of a cursor-paged list, page after page (from `cursor` when given). */
export async function allPages(client: TestClient, path: string, limit = 250, from: string | null = null): Promise<any[]> {
  const results: any[] = [];
  let cursor = from;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page: any = await client.api("GET", `${path}${separator}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    results.push(...page.body.results);
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  return results;
}

/** Creates a company (a company.created message) and returns its id. */
export async function createCompany(client: TestClient, name: string, tags?: Record<string, string>): Promise<string> {
  const response = await client.api("POST", "/companies", { name, ...(tags ? { tags } : {}) });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.id;
}

/** The consumer's messages once none of them is pending any more. */
export function settledMessages(client: TestClient, webhookId: string, expected: number): Promise<any[]> {
  return until(
    `${expected} final deliveries to ${webhookId}`,
    () => allPages(client, `/webhooks/${webhookId}/messages`),
    (messages) => messages.length === expected && messages.every((message) => ["Success", "Failure"].includes(message.deliveries[0]?.status)),
  );
}

/** The id of the message (event) a webhook request carried. */
export const webhookIdOf = (webhook: { headers: Record<string, unknown> }) => webhook.headers["webhook-id"] as string;
