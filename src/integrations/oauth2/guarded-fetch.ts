import type { LookupAddress, LookupOptions } from "node:dns";
import type { CustomFetch } from "openid-client";
import { Agent } from "undici";

/** The SSRF policy, as the composition root hands it over (the domain's DestinationPolicy). */
export interface OutboundGuard {
  lookup(
    hostname: string,
    options: LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void;
  isRefusedLiteral(url: URL): boolean;
}

const refused = () =>
  Object.assign(new Error("Destination refused: private, loopback, link-local and reserved addresses are not allowed"), { code: "EDESTINATIONREFUSED" });

/**
 * A fetch for one provider's token endpoint that dials only what the SSRF
 * policy allows (the deployment's HOOKLINE_ALLOWED_CIDRS admitting private
 * hosts), never follows redirects, and gives up after `timeoutMs`.
 */
export function guardedFetch(destinations: OutboundGuard, timeoutMs: number): CustomFetch {
  const dispatcher = new Agent({ connect: { lookup: destinations.lookup, timeout: timeoutMs } });
  return async (url, options) => {
    // The lookup guards names; an address written in the URL is never looked up.
    if (destinations.isRefusedLiteral(new URL(url))) throw new TypeError("fetch failed", { cause: refused() });
    const signal = AbortSignal.timeout(timeoutMs);
    return fetch(url, {
      ...(options as RequestInit),
      redirect: "manual",
      signal: options.signal ? AbortSignal.any([options.signal, signal]) : signal,
      // Node's fetch takes an undici dispatcher; its RequestInit type does not declare it.
      ...({ dispatcher } as object),
    });
  };
}
