import type { JsonSchema } from "../codat.ts";
import { errorResponse } from "./shared.ts";

/** Probes and metrics for the operator: no API key, as load balancers and Prometheus call them. */
export const observabilityPaths: Record<string, Record<string, JsonSchema>> = {
  "/healthz": {
    get: {
      operationId: "get-liveness",
      summary: "Liveness",
      description: "Hookline extension, no authentication. 200 while the process serves HTTP; it does not look at the database (see `/readyz`).",
      tags: ["Operations"],
      security: [],
      responses: { "200": { description: "Alive", content: { "application/json": { schema: { type: "object", properties: { status: { type: "string", enum: ["ok"] } }, required: ["status"] } } } } },
    },
  },
  "/readyz": {
    get: {
      operationId: "get-readiness",
      summary: "Readiness",
      description: "Hookline extension, no authentication. 200 when the database answers (within 2 s) and every migration is applied; 503 otherwise, so a load balancer stops sending requests here. `/healthz` only tells the process is alive.",
      tags: ["Operations"],
      security: [],
      responses: {
        "200": { description: "Ready", content: { "application/json": { schema: { type: "object", properties: { status: { type: "string", enum: ["ready"] } }, required: ["status"] } } } },
        "503": errorResponse("Not ready: the database is unreachable or migrations are not applied"),
      },
    },
  },
  "/metrics": {
    get: {
      operationId: "get-metrics",
      summary: "Prometheus metrics",
      description:
        "Hookline extension, no authentication (it names no client and no secret; keep it off the public internet all the same). Prometheus text format: `hookline_delivery_outcomes_total{outcome}` (success, retrying, failed, skipped) and `hookline_delivery_attempt_duration_seconds` from this process's delivery worker; `hookline_deliveries_pending` and `hookline_oldest_due_delivery_age_seconds` for the whole queue, read from the database at scrape time; `hookline_http_requests_total{method,route,status_code}`, `hookline_http_request_duration_seconds`; and Node.js process metrics.",
      tags: ["Operations"],
      security: [],
      responses: { "200": { description: "OK", content: { "text/plain; version=0.0.4": { schema: { type: "string" } } } } },
    },
  },
};
