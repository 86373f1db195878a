import type { Command } from "commander";
import type { AppContext } from "../domain/context.ts";
import { createOperatorToken } from "../domain/operator-api.ts";

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
}
