import type { JsonSchema } from "../codat.ts";

/** Hookline's own field of the client profile, beside Codat's; also part of PUT /profile's validation schema. */
export const alertAuthHeaderProperty: JsonSchema = {
  type: "string",
  maxLength: 2000,
  description:
    "Hookline extension. The Authorization header sent with legacy rule webhooks (`Bearer …`, `Basic …`); stored encrypted. Leave it out to send none.",
  example: "Bearer rule-webhooks-secret",
};

/** Codat's Profile schema with Hookline's alertAuthHeader added, as the served document shows it. */
export function withAlertAuthHeader(profile: JsonSchema): JsonSchema {
  const properties = (profile.properties ?? {}) as Record<string, JsonSchema>;
  return { ...profile, properties: { ...properties, alertAuthHeader: alertAuthHeaderProperty } };
}
