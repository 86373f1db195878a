import type { Activity, ActivityPeriod } from "../../domain/activity.ts";
import type { ApiKeyDetails } from "../../domain/clients.ts";
import type { CompanyResource } from "../../domain/companies.ts";
import type { TransformationResource, TransformationTestResult } from "../../domain/consumer-transformation.ts";
import type { WebhookConsumerResource } from "../../domain/consumers.ts";
import type { CatalogEntry } from "../../domain/events/catalog-view.ts";
import type { ComparisonReport, MigrationCandidate } from "../../domain/legacy-migration.ts";
import type { AttemptResource, MessageDetails, MessageSummary } from "../../domain/messages.ts";
import type { ValidationItem } from "../../errors.ts";

/** What the portal's layout shows around every page: the navigation, the client, the session's limits, the assets. */
export interface PortalFrame {
  title: string;
  /** The navigation entry of the page, marked current. */
  section: "activity" | "consumers" | "migration" | "catalog" | "companies" | "api-keys" | "none";
  clientName: string;
  readOnly: boolean;
  /** Opened by an access link rather than an API key: no API keys page. */
  embedded: boolean;
  /** Limited to some consumers: no legacy migration page (a migration creates and deletes consumers). */
  limited: boolean;
  csrf: { field: string; token: string };
  assets: { css: string; uplotCss: string; htmx: string; uplot: string; script: string };
  notice: { kind: "ok" | "bad" | "warn"; text: string } | null;
}

/** A form's values as entered and the API's validation errors for them, by field. */
export interface FormState {
  values: Record<string, string | string[]>;
  errors: Record<string, string>;
  /** The error's message as the API answers it, shown above the form. */
  summary: string | null;
}

export interface TreeNode {
  name: string;
  type: string;
  required: boolean;
  description: string | null;
  children: TreeNode[];
}

export interface PortalPages {
  "portal/sign-in": { title: string; assets: PortalFrame["assets"]; next: string; error: string | null };
  "portal/refused": { title: string; assets: PortalFrame["assets"]; message: string; signInUrl: string | null };
  "portal/error": { frame: PortalFrame; statusCode: number; message: string };
  "portal/consumers": { frame: PortalFrame; consumers: WebhookConsumerResource[]; mayCreate: boolean };
  "portal/consumer-form": {
    frame: PortalFrame;
    consumer: WebhookConsumerResource | null;
    action: string;
    form: FormState;
    eventTypes: string[];
  };
  "portal/consumer": {
    frame: PortalFrame;
    consumer: WebhookConsumerResource;
    /** Custom headers, their values masked as the API masks them. */
    headers: Record<string, string>;
    /** Whether deliveries run a transformation. */
    transformation: "None" | "Enabled" | "Disabled";
    messages: Array<MessageSummary & { status: string; attempts: number }>;
    filters: Record<string, string>;
    nextPage: string | null;
    statuses: readonly string[];
    eventTypes: string[];
    examples: string[];
    base: string;
  };
  "portal/message": {
    frame: PortalFrame;
    consumer: WebhookConsumerResource;
    message: MessageDetails;
    status: string | null;
    attempts: AttemptResource[];
    payload: string | null;
    pending: boolean;
    base: string;
  };
  "portal/headers": { frame: PortalFrame; consumer: WebhookConsumerResource; headers: Record<string, string>; form: FormState; base: string };
  "portal/transformation": {
    frame: PortalFrame;
    consumer: WebhookConsumerResource;
    /** The transformation as saved; null when the consumer has none. */
    saved: TransformationResource | null;
    form: FormState;
    /** A test run's outcome, its result as indented JSON. */
    test: (TransformationTestResult & { resultJson: string | null }) | null;
    examples: string[];
    base: string;
  };
  "portal/mtls": { frame: PortalFrame; consumer: WebhookConsumerResource; form: FormState; base: string };
  "portal/confirm-delete": { frame: PortalFrame; consumer: WebhookConsumerResource; base: string };
  "portal/secret": { frame: PortalFrame; consumer: WebhookConsumerResource; secret: string; rotated: boolean; base: string };
  "portal/catalog": { frame: PortalFrame; entries: Array<CatalogEntry & { tree: TreeNode[]; exampleJson: string }> };
  "portal/companies": {
    frame: PortalFrame;
    companies: CompanyResource[];
    search: string;
    page: number;
    nextPage: string | null;
    previousPage: string | null;
    total: number;
  };
  "portal/company": { frame: PortalFrame; company: CompanyResource; messages: MessageSummary[] | null };
  "portal/activity": {
    frame: PortalFrame;
    activity: Activity;
    periods: ActivityPeriod[];
    chart: string;
    consumers: Array<{ id: string; url: string }>;
    /** The consumer the page is limited to; null for all. */
    consumer: string | null;
  };
  "portal/migration": { frame: PortalFrame; candidates: MigrationCandidate[] };
  "portal/confirm-contract": { frame: PortalFrame; candidate: MigrationCandidate };
  "portal/migration-report": {
    frame: PortalFrame;
    candidate: MigrationCandidate;
    /** Null before the expand step. */
    report: ComparisonReport | null;
    /** The window's fields as entered (UTC `datetime-local` values). */
    window: { since: string; until: string };
  };
  "portal/api-keys": { frame: PortalFrame; keys: ApiKeyDetails[]; created: (ApiKeyDetails & { apiKey: string }) | null };
}

/** The API's validation errors, by the form field each names (its last path segment: `body/eventType` is `eventType`). */
export function fieldErrors(errors: readonly ValidationItem[]): Record<string, string> {
  const byField: Record<string, string> = {};
  for (const error of errors) {
    const field = (error.itemId ?? "").split("/").pop() ?? "";
    byField[field] = byField[field] === undefined ? (error.message ?? "") : `${byField[field]}; ${error.message ?? ""}`;
  }
  return byField;
}
