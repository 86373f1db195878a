import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConnectionId } from "../../src/ids.ts";
import { upsertConnectionTokens, findConnectionTokens } from "../../src/storage/connection-tokens.ts";
import { resealSealedTable } from "../../src/storage/sealed-secrets.ts";
import { nextTimestamp, openTestStore, seedClient, seedCompany, seedConnection } from "../support/storage.ts";

test("a sealed table is rewritten in key order across batches; a value left undefined stays, a null column is never offered", async (t) => {
  const { store } = await openTestStore(t);
  const clientId = await seedClient(store);
  const company = await seedCompany(store, clientId);
  const connections: ConnectionId[] = [];
  for (let index = 0; index < 5; index++) {
    const connection = await seedConnection(store, clientId, company.id);
    await store.transaction(({ tx }) =>
      upsertConnectionTokens(tx, {
        connection_id: connection.id,
        client_id: clientId,
        access_token: `access ${index}`,
        refresh_token: index === 0 ? null : `refresh ${index}`,
        expires_at: null,
        refresh_failing_since: null,
        next_refresh_at: null,
        updated_at: nextTimestamp(),
      }),
    );
    connections.push(connection.id);
  }
  const offered: string[] = [];
  // Batches of 2: three transactions, each resuming after the last key of the one before.
  await resealSealedTable(store, 2, "connection_tokens", (rowKey, column, stored) => {
    offered.push(`${rowKey} ${column}`);
    return stored.startsWith("access") ? `${stored} again` : undefined;
  });
  const sorted = [...connections].sort();
  assert.deepEqual(
    offered,
    sorted.flatMap((id) => [`${id} access_token`, ...(id === connections[0] ? [] : [`${id} refresh_token`])]),
  );
  for (const [index, id] of connections.entries()) {
    const row = await findConnectionTokens(store.db, id);
    assert.equal(row!.access_token, `access ${index} again`);
    assert.equal(row!.refresh_token, index === 0 ? null : `refresh ${index}`);
  }
});
