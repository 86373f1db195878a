import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { badRequest } from "../errors.ts";

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * Keeps webhook deliveries away from the operator's own network (SSRF): a
 * destination must be http(s) and resolve only to public unicast addresses,
 * unless the operator allow-lists a CIDR. It is checked when a consumer is
 * saved and again at every connect, so a hostname re-pointed at a private
 * address after the check (DNS rebinding) is still refused.
 */
export class DestinationPolicy {
  private readonly allowed: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

  constructor(allowedCidrs: readonly string[]) {
    this.allowed = allowedCidrs.map((cidr) => {
      try {
        return ipaddr.parseCIDR(cidr);
      } catch {
        throw new Error(`Invalid CIDR "${cidr}" in the allowed destination list`);
      }
    });
  }

  isAllowedAddress(address: string): boolean {
    const parsed = ipaddr.process(address);
    if (this.allowed.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) return true;
    return parsed.range() === "unicast";
  }

  /** Rejects (400) a consumer URL that is not http(s) or whose host resolves to a refused address. */
  async assertAllowedUrl(url: string): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badRequest("url must be an absolute http or https URL", [{ itemId: "url", message: "Not a valid URL", validatorName: "url" }]);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw badRequest("url must use http or https", [{ itemId: "url", message: `Scheme ${parsed.protocol} is not allowed`, validatorName: "url" }]);
    }
    const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    const addresses = isIP(host) ? [host] : await resolveAll(host);
    const refused = addresses.find((address) => !this.isAllowedAddress(address));
    if (refused !== undefined) {
      throw badRequest("url resolves to a private, loopback, link-local or otherwise non-public address", [
        { itemId: "url", message: `${host} resolves to a refused address; an operator may allow-list its range`, validatorName: "destination" },
      ]);
    }
  }

  /** Whether the URL's host is an IP address the policy refuses (hostnames are checked by `lookup`). */
  isRefusedLiteral(url: URL): boolean {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    return isIP(host) !== 0 && !this.isAllowedAddress(host);
  }

  /** A drop-in for `dns.lookup` given to the HTTP client, so the check holds for the address actually dialled. */
  readonly lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = addresses.find((entry) => !this.isAllowedAddress(entry.address));
      if (refused) {
        const denied: NodeJS.ErrnoException = new Error(`Destination ${hostname} resolves to a refused address`);
        denied.code = "EDESTINATIONREFUSED";
        return callback(denied, []);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

async function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true }, (error, addresses) => {
      if (error) {
        reject(badRequest(`url host ${host} could not be resolved`, [{ itemId: "url", message: error.code ?? "DNS lookup failed", validatorName: "destination" }]));
      } else resolve(addresses.map((entry) => entry.address));
    });
  });
}
