import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { parse as parseYaml } from "yaml";
import { parseDuration } from "../config.ts";
import type { SecretBox } from "../secret-box.ts";
import type { OutboundGuard } from "./oauth2/guarded-fetch.ts";
import { credentialsProvider } from "./credentials/credentials.ts";
import { oauth2Provider } from "./oauth2/oauth2.ts";
import type { IntegrationLogo, IntegrationProvider, SourceType } from "./provider.ts";
import { IntegrationCatalog } from "./registry.ts";
import { sandboxProvider } from "./sandbox/sandbox.ts";
import schema from "./integrations-file.schema.json" with { type: "json" };

/** The published schema of HOOKLINE_INTEGRATIONS_FILE (`hookline integrations schema` prints it). */
export const INTEGRATIONS_FILE_SCHEMA = schema;

interface FileIntegration {
  platformKey: string;
  name: string;
  sourceType: SourceType;
  enabled?: boolean;
  integrationId?: string;
  sourceId?: string;
  logo?: string;
  kind: "oauth2" | "credentials";
  credentials?: {
    fields: Array<{ name: string; label: string; secret?: boolean }>;
    verifyUrl: string;
    keepCredentials?: boolean;
    timeout?: string;
  };
  oauth2?: {
    authorizeUrl: string;
    tokenUrl: string;
    issuer?: string;
    clientId: string;
    clientSecret: string;
    tokenAuthMethod?: "client_secret_basic" | "client_secret_post";
    scopes?: string[];
    authorizeParams?: Record<string, string>;
    timeout?: string;
  };
}

interface IntegrationsFile {
  sandbox?: { enabled?: boolean };
  integrations?: FileIntegration[];
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const validate = ajv.compile<IntegrationsFile>(schema);

/** Logos are shown on every link page: small files only. */
const MAX_LOGO_BYTES = 256 * 1024;
const LOGO_TYPES: Record<string, IntegrationLogo["contentType"]> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
};

/** A start-time failure naming the file and what is wrong in it, so the operator can fix it. */
const fileError = (path: string, reason: string) => new Error(`Integrations file ${path}: ${reason}`);

/** A stable UUID for an integration the operator gave no id: the same key gives the same id on every start. */
function derivedUuid(platformKey: string, what: string): string {
  const hex = createHash("sha256").update(`hookline integration\0${platformKey}\0${what}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The default logo of an integration without one: its initial on a grey square. */
function initialLogo(name: string): IntegrationLogo {
  const initial = name
    .trim()
    .charAt(0)
    .toUpperCase()
    .replace(/[^A-Z0-9]/, "?");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#5b6b7a"/><text x="32" y="44" font-family="sans-serif" font-size="34" font-weight="700" text-anchor="middle" fill="#fff">${initial}</text></svg>`;
  return { contentType: "image/svg+xml", fileName: "logo.svg", bytes: Buffer.from(svg) };
}

function readLogo(path: string, logo: string | undefined, name: string): IntegrationLogo {
  if (logo === undefined) return initialLogo(name);
  const file = resolve(dirname(path), logo);
  const extension = extname(file).toLowerCase();
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw fileError(path, `logo ${logo} was not found (paths are relative to the integrations file)`);
  }
  if (size > MAX_LOGO_BYTES) throw fileError(path, `logo ${logo} is larger than ${MAX_LOGO_BYTES / 1024} KiB`);
  return { contentType: LOGO_TYPES[extension]!, fileName: `logo${extension}`, bytes: readFileSync(file) };
}

function parse(path: string, text: string): unknown {
  try {
    return path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw fileError(path, `not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(error as Error).message.split("\n")[0]}`);
  }
}

/**
 * The integrations this deployment offers: the built-in sandbox and those
 * the operator declares in `path` (YAML, or JSON for a .json file), checked
 * against the published schema. Anything wrong (an unreadable file, a schema
 * violation, a repeated key or field name, a missing logo, a client secret that does not
 * open under the deployment's keys) stops the start with the path and reason.
 */
export function loadIntegrations(path: string | null, secretBox: SecretBox, guard: OutboundGuard, now: () => number): IntegrationCatalog {
  if (path === null) return new IntegrationCatalog([sandboxProvider(true)]);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw fileError(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const document = parse(path, text) ?? {};
  if (!validate(document)) {
    const reasons = (validate.errors ?? []).map((error) => `${error.instancePath || "(top level)"} ${error.message}`);
    throw fileError(path, `does not match the schema: ${[...new Set(reasons)].join("; ")}`);
  }
  const declared = document.integrations ?? [];
  const seen = new Set<string>();
  const providers: IntegrationProvider[] = [];
  if (document.sandbox?.enabled !== false) providers.push(sandboxProvider(true));
  for (const [index, integration] of declared.entries()) {
    const where = `/integrations/${index}`;
    if (seen.has(integration.platformKey)) throw fileError(path, `${where} repeats platformKey "${integration.platformKey}"`);
    seen.add(integration.platformKey);
    const common = {
      key: integration.platformKey,
      name: integration.name,
      sourceType: integration.sourceType,
      integrationId: integration.integrationId ?? derivedUuid(integration.platformKey, "integration"),
      sourceId: integration.sourceId ?? derivedUuid(integration.platformKey, "source"),
      enabled: integration.enabled ?? true,
      logo: readLogo(path, integration.logo, integration.name),
    };
    const timeoutOf = (timeout: string | undefined, at: string) => {
      try {
        return Math.max(1, parseDuration(timeout ?? "15s"));
      } catch (error) {
        throw fileError(path, `${where}/${at}/timeout: ${(error as Error).message}`);
      }
    };
    if (integration.kind === "credentials") {
      // The schema requires the settings of the integration's kind.
      const credentials = integration.credentials!;
      const names = credentials.fields.map((field) => field.name);
      const repeated = names.find((name, at) => names.indexOf(name) !== at);
      if (repeated !== undefined) throw fileError(path, `${where}/credentials/fields repeats the field name "${repeated}"`);
      providers.push(
        credentialsProvider(
          {
            ...common,
            fields: credentials.fields.map((field) => ({ name: field.name, label: field.label, secret: field.secret ?? false })),
            verifyUrl: credentials.verifyUrl,
            keepCredentials: credentials.keepCredentials ?? true,
            timeoutMs: timeoutOf(credentials.timeout, "credentials"),
          },
          guard,
        ),
      );
      continue;
    }
    const oauth2 = integration.oauth2!;
    let clientSecret: string;
    try {
      clientSecret = secretBox.open(oauth2.clientSecret, "integration-client-secret", integration.platformKey);
    } catch {
      throw fileError(
        path,
        `${where}/oauth2/clientSecret does not open under this deployment's encryption keys: seal it with \`hookline integrations seal-secret ${integration.platformKey}\``,
      );
    }
    providers.push(
      oauth2Provider(
        {
          ...common,
          authorizeUrl: oauth2.authorizeUrl,
          tokenUrl: oauth2.tokenUrl,
          issuer: oauth2.issuer ?? new URL(oauth2.authorizeUrl).origin,
          clientId: oauth2.clientId,
          clientSecret,
          tokenAuthMethod: oauth2.tokenAuthMethod ?? "client_secret_basic",
          scopes: oauth2.scopes ?? [],
          authorizeParams: oauth2.authorizeParams ?? {},
          timeoutMs: timeoutOf(oauth2.timeout, "oauth2"),
        },
        guard,
        now,
      ),
    );
  }
  return new IntegrationCatalog(providers);
}
