import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { MAX_DESTINATION_URL_LENGTH } from "../constants/limits.ts";
import { badRequest } from "../errors.ts";

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type Address = ipaddr.IPv4 | ipaddr.IPv6;

const GLOBAL_UNICAST = ipaddr.parseCIDR("2000::/3");
const NAT64_WELL_KNOWN = ipaddr.parseCIDR("64:ff9b::/96");
const SIX_TO_FOUR = ipaddr.parseCIDR("2002::/16");

/**
 * The one answer for a host that does not resolve and one that resolves to a
 * refused address, when a consumer is saved and in the attempt log: telling
 * them apart would let a tenant learn which internal names exist.
 */
const REFUSED = "the host does not resolve to an address webhooks may be sent to (a public address, or one in a range the operator allow-listed)";

/**
 * Keeps webhook deliveries away from the operator's own network (SSRF): a
 * destination must be http(s) and resolve only to global unicast addresses,
 * unless the operator allow-lists a CIDR. It is checked when a consumer is
 * saved and again at every connect, so a hostname re-pointed at a private
 * address after the check (DNS rebinding) is still refused.
 *
 * IPv6 forms that carry an IPv4 address are judged by that address, since
 * that is where they lead: IPv4-mapped (a dual-stack socket dials the IPv4
 * address), NAT64's well-known prefix and 6to4 (a gateway forwards to it).
 * Every other IPv6 address outside 2000::/3 or in a special-purpose block is
 * refused, IPv4-compatible (::/96), Teredo and local-use NAT64 included.
 */
export class DestinationPolicy {
  private readonly allowedV4: Array<[ipaddr.IPv4, number]> = [];
  private readonly allowedV6: Array<[ipaddr.IPv6, number]> = [];

  /** `allowedCidrs` as config.ts checked them: full `address/prefix` ranges of either family. */
  constructor(allowedCidrs: readonly string[]) {
    for (const cidr of allowedCidrs) {
      let range: [Address, number];
      try {
        range = ipaddr.parseCIDR(unambiguous(cidr));
      } catch {
        throw new Error(`Invalid CIDR "${cidr}" in the allowed destination list`);
      }
      if (range[0] instanceof ipaddr.IPv4) this.allowedV4.push([range[0], range[1]]);
      else this.allowedV6.push([range[0], range[1]]);
    }
  }

  isAllowedAddress(text: string): boolean {
    const address = unambiguous(text);
    return ipaddr.isValid(address) && this.allows(ipaddr.parse(address));
  }

  private allows(address: Address): boolean {
    if (this.allowListed(address)) return true;
    if (address instanceof ipaddr.IPv4) return address.range() === "unicast";
    const embedded = embeddedIPv4(address);
    if (embedded !== null) return this.allows(embedded);
    return address.range() === "unicast" && address.match(GLOBAL_UNICAST);
  }

  /** An IPv4 range also admits the IPv4-mapped form of its addresses, and a `::ffff:` range the IPv4 addresses it maps. */
  private allowListed(address: Address): boolean {
    const v4 = address instanceof ipaddr.IPv4 ? address : address.isIPv4MappedAddress() ? address.toIPv4Address() : null;
    const v6 = address instanceof ipaddr.IPv6 ? address : address.toIPv4MappedAddress();
    return (v4 !== null && this.allowedV4.some((range) => v4.match(range))) || this.allowedV6.some((range) => v6.match(range));
  }

  /** Rejects (400) a consumer URL that is not http(s) or whose host does not resolve, or resolves to a refused address. */
  async assertAllowedUrl(url: string): Promise<void> {
    if (url.length > MAX_DESTINATION_URL_LENGTH) {
      throw badRequest(`url may have at most ${MAX_DESTINATION_URL_LENGTH} characters`, [
        { itemId: "url", message: `Longer than ${MAX_DESTINATION_URL_LENGTH} characters`, validatorName: "maxLength" },
      ]);
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badRequest("url must be an absolute http or https URL", [{ itemId: "url", message: "Not a valid URL", validatorName: "url" }]);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw badRequest("url must use http or https", [{ itemId: "url", message: `Scheme ${parsed.protocol} is not allowed`, validatorName: "url" }]);
    }
    const host = hostOf(parsed);
    const addresses = isIP(host) ? [host] : await resolveAll(host);
    if (addresses.length === 0 || !addresses.every((address) => this.isAllowedAddress(address))) {
      throw badRequest(`url is refused: ${REFUSED}`, [
        { itemId: "url", message: "Private, loopback, link-local, reserved and unresolvable hosts are refused alike", validatorName: "destination" },
      ]);
    }
  }

  /** Whether the URL's host is an IP address the policy refuses (hostnames are checked by `lookup`). */
  isRefusedLiteral(url: URL): boolean {
    const host = hostOf(url);
    return isIP(host) !== 0 && !this.isAllowedAddress(host);
  }

  /**
   * A drop-in for `dns.lookup` given to the HTTP client, so the check holds for
   * the address actually dialled. A failed resolution fails like a refused one.
   */
  readonly lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error || addresses.length === 0 || !addresses.every((entry) => this.isAllowedAddress(entry.address))) return callback(refusal(), []);
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** The error an attempt to a refused or unresolvable destination fails with. */
export function refusal(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`Destination refused: ${REFUSED}`);
  error.code = "EDESTINATIONREFUSED";
  return error;
}

/** ipaddr.js reads `::a.b.c.d` as IPv4-mapped; it is IPv4-compatible (::/96), which `::0:a.b.c.d` spells unambiguously. */
function unambiguous(address: string): string {
  return address.replace(/^::(?=\d+\.)/, "::0:");
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

/** The IPv4 address an IPv6 address leads to, for the forms that embed one; null for the others. */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  const { parts } = address;
  if (address.isIPv4MappedAddress() || address.match(NAT64_WELL_KNOWN)) return ipv4Of(parts[6]!, parts[7]!);
  if (address.match(SIX_TO_FOUR)) return ipv4Of(parts[1]!, parts[2]!);
  return null;
}

function ipv4Of(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** Every address of the host; none when it does not resolve (refused like a private one). */
async function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve) => {
    dnsLookup(host, { all: true }, (error, addresses) => resolve(error ? [] : addresses.map((entry) => entry.address)));
  });
}
