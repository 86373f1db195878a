import type { Command, Option } from "commander";
import { createCompany, getCompany, listCompanies, type CompanyResource } from "../domain/companies.ts";
import { createConnection, getConnection, listConnections, type ConnectionResource } from "../domain/connections.ts";
import type { AppContext } from "../domain/context.ts";
import type { PageRequest } from "../domain/paging.ts";
import { pageRequest, pagingQuery } from "../http/schemas.ts";
import { badRequest } from "../errors.ts";
import { newCompanyBody } from "../http/routes/companies.ts";
import { assertValidBody } from "../http/validation.ts";
import { asId, type ClientId, type CompanyId, type ConnectionId } from "../ids.ts";
import { jsonOption, printJson, printList } from "./output.ts";

type WithContext = (work: (ctx: AppContext) => Promise<void>) => Promise<void>;

interface ListOptions {
  client: string;
  json?: boolean;
  query?: string;
  orderBy?: string;
  page: string;
  pageSize: string;
}

/** The page asked for, checked as the API checks its query string. */
function pageOf(options: ListOptions): PageRequest {
  const query = { page: Number(options.page), pageSize: Number(options.pageSize), query: options.query, orderBy: options.orderBy };
  assertValidBody(pagingQuery, query, "options");
  return pageRequest(query);
}

/** Codat's paging options, as the API takes them. */
const paged = (command: Command) =>
  command
    .option("--query <query>", 'Codat\'s query language, e.g. "region = uk && name ~ toft"')
    .option("--order-by <field>", "a field to order by, - in front for descending")
    .option("--page <n>", "page number, from 1", "1")
    .option("--page-size <n>", "results per page (up to 5000)", "100")
    .addOption(jsonOption());

/** The next page's options, when there is one, for standard error below a table. */
const morePages = (answer: { pageNumber: number; pageSize: number; totalResults: number }) =>
  answer.pageNumber * answer.pageSize < answer.totalResults
    ? `${answer.totalResults} in all: --page ${answer.pageNumber + 1} for the next ${answer.pageSize}`
    : undefined;

/** `key=value`, as tags are typed on a command line. */
function parseTag(text: string): [string, string] {
  const equals = text.indexOf("=");
  if (equals <= 0) throw badRequest(`Give each tag as key=value, got "${text}"`);
  return [text.slice(0, equals), text.slice(equals + 1)];
}

const linkStatus = (company: CompanyResource) =>
  (company.dataConnections ?? []).map((connection: ConnectionResource) => `${connection.integrationKey}:${connection.status}`).join(" ");

/** `hookline companies ...` and `hookline connections ...`: the client's companies and their connections, as the API offers them. */
export function resourceCommands(program: Command, withContext: WithContext, clientOption: Option): void {
  const companies = program.command("companies").description("The client's companies (its customers)");
  paged(companies.command("list").description("List companies").addOption(clientOption)).action((options: ListOptions) =>
    withContext(async (ctx) => {
      const answer = await listCompanies(ctx, asId<ClientId>(options.client), pageOf(options));
      printList(
        options,
        answer,
        answer.results,
        {
          ID: (company) => company.id,
          NAME: (company) => company.name,
          TAGS: (company) =>
            Object.entries(company.tags ?? {})
              .map(([key, value]) => `${key}=${value}`)
              .join(" "),
          CONNECTIONS: linkStatus,
          CREATED: (company) => company.created,
        },
        morePages(answer),
      );
    }),
  );
  companies
    .command("create <name>")
    .description("Create a company (a company.created event)")
    .addOption(clientOption)
    .option("--description <text>", "a note, e.g. your own id for it")
    .option("--tag <key=value...>", "tags, used by query and consumers' tag filters")
    .action((name: string, options: { client: string; description?: string; tag?: string[] }) =>
      withContext(async (ctx) => {
        const body = {
          name,
          ...(options.description === undefined ? {} : { description: options.description }),
          tags: Object.fromEntries((options.tag ?? []).map(parseTag)),
        };
        assertValidBody(newCompanyBody, body);
        printJson(await createCompany(ctx, asId<ClientId>(options.client), body));
      }),
    );
  companies
    .command("get <companyId>")
    .description("Print a company with its connections")
    .addOption(clientOption)
    .action((companyId: string, options: { client: string }) =>
      withContext(async (ctx) => printJson(await getCompany(ctx, asId<ClientId>(options.client), asId<CompanyId>(companyId)))),
    );

  const connections = program.command("connections").description("A company's connections to integrations");
  paged(connections.command("list").description("List a company's connections").addOption(clientOption))
    .requiredOption("--company <companyId>", "(required) the company")
    .action((options: ListOptions & { company: string }) =>
      withContext(async (ctx) => {
        const answer = await listConnections(ctx, asId<ClientId>(options.client), asId<CompanyId>(options.company), pageOf(options));
        printList(
          options,
          answer,
          answer.results,
          {
            ID: (connection) => connection.id,
            INTEGRATION: (connection) => connection.integrationKey,
            STATUS: (connection) => connection.status,
            CREATED: (connection) => connection.created,
            "LINK URL": (connection) => connection.linkUrl,
          },
          morePages(answer),
        );
      }),
    );
  connections
    .command("create")
    .description("Create a connection (PendingAuth; a connection.created event) and print it with its linkUrl")
    .addOption(clientOption)
    .requiredOption("--company <companyId>", "(required) the company")
    .requiredOption("--platform-key <key>", '(required) the integration, e.g. "sand" for the sandbox')
    .action((options: { client: string; company: string; platformKey: string }) =>
      withContext(async (ctx) => printJson(await createConnection(ctx, asId<ClientId>(options.client), asId<CompanyId>(options.company), options.platformKey))),
    );
  connections
    .command("get <connectionId>")
    .description("Print a connection")
    .addOption(clientOption)
    .requiredOption("--company <companyId>", "(required) the company")
    .action((connectionId: string, options: { client: string; company: string }) =>
      withContext(async (ctx) =>
        printJson(await getConnection(ctx, asId<ClientId>(options.client), asId<CompanyId>(options.company), asId<ConnectionId>(connectionId))),
      ),
    );
}
