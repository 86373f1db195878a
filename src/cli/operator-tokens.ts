import type { Command } from "commander";
import type { AppContext } from "../domain/context.ts";
import { createOperatorToken, listOperatorTokenRecords, revokeOperatorToken } from "../domain/operator-api.ts";
import { asId, type OperatorTokenId } from "../ids.ts";
import { jsonOption, printList } from "./output.ts";

type WithContext = (work: (ctx: AppContext) => Promise<void>) => Promise<void>;

/** `hookline operator-tokens ...`: the tokens the operator's data engine signs in to the operator API with. */
export function operatorTokenCommands(program: Command, withContext: WithContext): void {
  const tokens = program
    .command("operator-tokens")
    .description("Tokens for the operator API (the data engine's access to connections' tokens and credentials)");
  tokens
    .command("create <name>")
    .description('Create an operator token; it is shown once: send it as "Authorization: Bearer <token>"')
    .action((name: string) =>
      withContext(async (ctx) => {
        const created = await createOperatorToken(ctx, name);
        console.log(JSON.stringify(created, null, 2));
      }),
    );
  tokens
    .command("list")
    .addOption(jsonOption("the table's fields"))
    .description("List operator tokens (id, name, when created; a token itself is kept only as a hash)")
    .action((options: { json?: boolean }) =>
      withContext(async (ctx) => {
        const found = await listOperatorTokenRecords(ctx);
        printList(options, found, found, { ID: (token) => token.id, NAME: (token) => token.name, CREATED: (token) => token.createdAt });
      }),
    );
  tokens
    .command("revoke <tokenId>")
    .description("Revoke an operator token: requests signed with it are refused from the next one on")
    .action((tokenId: string) =>
      withContext(async (ctx) => {
        await revokeOperatorToken(ctx, asId<OperatorTokenId>(tokenId));
        console.log(`Revoked ${tokenId}.`);
      }),
    );
}
