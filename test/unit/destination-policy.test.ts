/**
 * The SSRF destination policy, address by address: which addresses a webhook
 * may go to, the IPv6 forms that lead to an IPv4 address, and the operator's
 * allow-list. No database and no network: `localhost` resolves locally, and
 * the names of the last part resolve through a stand-in for `dns.lookup`.
 */
import assert from "node:assert/strict";
import dns, { type LookupAddress } from "node:dns";
import { syncBuiltinESMExports } from "node:module";
import { after, before, describe, mock, test } from "node:test";
import { DestinationPolicy, refusal } from "../../src/domain/destination-policy.ts";
import { HooklineError } from "../../src/errors.ts";

const policy = new DestinationPolicy([]);

const REFUSED_REASON = "the host does not resolve to an address webhooks may be sent to (a public address, or one in a range the operator allow-listed)";
/** The one answer for a refused address and for a host that does not resolve. */
const REFUSED_URL = {
  message: `url is refused: ${REFUSED_REASON}`,
  items: [{ itemId: "url", message: "Private, loopback, link-local, reserved and unresolvable hosts are refused alike", validatorName: "destination" }],
};

/** Checks the 400 a client sees, message and validation items. */
const rejection = (expected: { message: string; items: unknown }) => (error: unknown) => {
  assert.ok(error instanceof HooklineError);
  assert.deepEqual({ status: error.statusCode, message: error.message, items: error.validationErrors }, { status: 400, ...expected });
  return true;
};

function assertVerdicts(subject: DestinationPolicy, expected: Record<string, boolean>) {
  const actual = Object.fromEntries(Object.keys(expected).map((address) => [address, subject.isAllowedAddress(address)]));
  assert.deepEqual(actual, expected);
}

describe("addresses without an allow-list", () => {
  test("public IPv4 addresses are allowed; private, loopback, link-local and other special ones are refused", () => {
    assertVerdicts(policy, {
      "8.8.8.8": true,
      "93.184.216.34": true,
      "10.0.0.1": false,
      "172.16.0.1": false,
      "172.31.255.255": false,
      "192.168.1.1": false,
      "127.0.0.1": false,
      "127.255.255.254": false,
      "169.254.169.254": false,
      "0.0.0.0": false,
      "100.64.0.1": false,
      "192.0.2.1": false,
      "224.0.0.1": false,
      "255.255.255.255": false,
    });
  });

  test("global unicast IPv6 is allowed; loopback, link-local, unique-local, documentation, Teredo and unspecified are refused", () => {
    assertVerdicts(policy, {
      "2001:4860:4860::8888": true,
      "2a00:1450:4001:80b::200e": true,
      "::1": false,
      "::": false,
      "fe80::1": false,
      "fc00::1": false,
      "fd12:3456::1": false,
      "2001:db8::1": false,
      "2001:0:4136:e378::1": false,
      "ff02::1": false,
    });
  });

  test("IPv6 forms carrying an IPv4 address are judged by that address", () => {
    assertVerdicts(policy, {
      // IPv4-mapped
      "::ffff:127.0.0.1": false,
      "::ffff:7f00:1": false,
      "::ffff:10.0.0.1": false,
      "::ffff:8.8.8.8": true,
      // NAT64's well-known prefix
      "64:ff9b::a00:1": false,
      "64:ff9b::808:808": true,
      // 6to4
      "2002:a00:1::": false,
      "2002:a9fe:a9fe::1": false,
      "2002:808:808::": true,
    });
  });

  test("IPv4-compatible addresses (::/96) are refused, however they are spelled", () => {
    assertVerdicts(policy, { "::8.8.8.8": false, "::0:8.8.8.8": false, "::808:808": false, "::127.0.0.1": false });
  });

  test("text that is no address is refused", () => {
    assertVerdicts(policy, { "example.com": false, "": false, "999.1.1.1": false, "8.8.8.8/32": false });
  });
});

describe("allow-listed ranges", () => {
  test("an IPv4 range admits its addresses, to its bounds, and their IPv4-mapped forms, and nothing else", () => {
    assertVerdicts(new DestinationPolicy(["10.1.0.0/16"]), {
      "10.1.0.0": true,
      "10.1.2.3": true,
      "10.1.255.255": true,
      "10.0.255.255": false,
      "10.2.0.0": false,
      "::ffff:10.1.2.3": true,
      "::ffff:10.2.0.1": false,
      "192.168.1.1": false,
      "8.8.8.8": true,
    });
  });

  test("a ::ffff: range admits the IPv4 addresses it maps", () => {
    assertVerdicts(new DestinationPolicy(["::ffff:192.168.0.0/112"]), { "192.168.4.5": true, "::ffff:192.168.4.5": true, "10.0.0.1": false });
  });

  test("an IPv6 range admits its addresses", () => {
    assertVerdicts(new DestinationPolicy(["fd00:1::/32"]), { "fd00:1::5": true, "fd00:1:ffff::1": true, "fd00:2::1": false, "::1": false });
  });

  test("a single loopback address, in either family", () => {
    assertVerdicts(new DestinationPolicy(["127.0.0.1/32", "::1/128"]), { "127.0.0.1": true, "127.0.0.2": false, "::1": true, "::2": false });
  });

  test("an IPv4-compatible range is read as written, not as IPv4-mapped", () => {
    assertVerdicts(new DestinationPolicy(["::10.0.0.0/104"]), { "::10.0.0.1": true, "10.0.0.1": false, "::ffff:10.0.0.1": false });
  });

  test("an invalid range is refused when the policy is made, naming it", () => {
    for (const cidr of ["10.0.0.0", "10.0.0.0/33", "example.com/8", ""]) {
      assert.throws(() => new DestinationPolicy(["8.8.8.0/24", cidr]), { message: `Invalid CIDR "${cidr}" in the allowed destination list` });
    }
  });
});

describe("consumer URLs", () => {
  test("only absolute http and https URLs", async () => {
    const invalid = { message: "url must be an absolute http or https URL", items: [{ itemId: "url", message: "Not a valid URL", validatorName: "url" }] };
    await assert.rejects(policy.assertAllowedUrl("not a url"), rejection(invalid));
    await assert.rejects(policy.assertAllowedUrl("/relative/path"), rejection(invalid));
    const scheme = (protocol: string) => ({
      message: "url must use http or https",
      items: [{ itemId: "url", message: `Scheme ${protocol} is not allowed`, validatorName: "url" }],
    });
    await assert.rejects(policy.assertAllowedUrl("ftp://8.8.8.8/file"), rejection(scheme("ftp:")));
    await assert.rejects(policy.assertAllowedUrl("file:///etc/passwd"), rejection(scheme("file:")));
    await policy.assertAllowedUrl("http://8.8.8.8/hook");
    await policy.assertAllowedUrl("https://[2001:4860:4860::8888]:8443/hook");
  });

  test("a refused address, literal or resolved, gets the one answer that does not tell them apart", async () => {
    for (const url of ["http://127.0.0.1/", "http://[::1]:8080/", "http://[::ffff:169.254.169.254]/", "http://localhost:3000/"]) {
      await assert.rejects(policy.assertAllowedUrl(url), rejection(REFUSED_URL));
    }
    await new DestinationPolicy(["127.0.0.0/8", "::1/128"]).assertAllowedUrl("http://localhost:3000/");
  });

  test("a literal address in a URL is refused by the policy; a hostname is left to the lookup", () => {
    assert.equal(policy.isRefusedLiteral(new URL("http://[::1]:8080/")), true);
    assert.equal(policy.isRefusedLiteral(new URL("http://10.0.0.1/")), true);
    assert.equal(policy.isRefusedLiteral(new URL("http://8.8.8.8/")), false);
    assert.equal(policy.isRefusedLiteral(new URL("http://localhost/")), false);
    assert.equal(new DestinationPolicy(["10.0.0.0/8"]).isRefusedLiteral(new URL("http://10.0.0.1/")), false);
  });
});

function lookup(subject: DestinationPolicy, all: boolean, hostname = "localhost") {
  return new Promise<{ error: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family: number | undefined }>((resolve) =>
    subject.lookup(hostname, { all }, (error, address, family) => resolve({ error, address, family })),
  );
}

function assertRefusal(error: NodeJS.ErrnoException | null) {
  assert.equal(error?.code, "EDESTINATIONREFUSED");
  assert.equal(error?.message, `Destination refused: ${REFUSED_REASON}`);
}

describe("the lookup given to the HTTP client", () => {
  test("refuses a host resolving to a refused address, with the refusal's code", async () => {
    for (const all of [false, true]) assertRefusal((await lookup(policy, all)).error);
    assertRefusal(refusal());
  });

  test("answers like dns.lookup for an allowed one: one address and its family, or all of them", async () => {
    const allowed = new DestinationPolicy(["127.0.0.0/8", "::1/128"]);
    const one = await lookup(allowed, false);
    assert.equal(one.error, null);
    assert.ok(one.address === "127.0.0.1" || one.address === "::1", `resolved to ${String(one.address)}`);
    assert.equal(one.family, one.address === "::1" ? 6 : 4);
    const every = await lookup(allowed, true);
    assert.equal(every.error, null);
    assert.ok(Array.isArray(every.address) && every.address.length > 0);
    assert.ok(every.address.some((entry) => entry.address === one.address && entry.family === one.family));
  });
});

describe("names whose addresses the test decides", () => {
  const ANSWERS: Record<string, LookupAddress[] | "ENOTFOUND"> = {
    "public.example": [{ address: "8.8.8.8", family: 4 }],
    "mixed.example": [
      { address: "8.8.8.8", family: 4 },
      { address: "10.0.0.1", family: 4 },
    ],
    "no-addresses.example": [],
    "unresolvable.example": "ENOTFOUND",
  };

  before(() => {
    const real = dns.lookup;
    mock.method(dns, "lookup", (hostname: string, options: dns.LookupAllOptions, callback: (error: Error | null, addresses?: LookupAddress[]) => void) => {
      const answer = ANSWERS[hostname];
      if (answer === undefined) return real(hostname, options, callback);
      if (answer === "ENOTFOUND") return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }));
      callback(null, answer);
    });
    // The policy imports `lookup` by name: make that binding the stand-in too.
    syncBuiltinESMExports();
  });
  after(() => {
    mock.restoreAll();
    syncBuiltinESMExports();
  });

  test("a name is allowed only when every address it resolves to is", async () => {
    await policy.assertAllowedUrl("https://public.example/hook");
    await assert.rejects(policy.assertAllowedUrl("https://mixed.example/hook"), rejection(REFUSED_URL));
    await new DestinationPolicy(["10.0.0.0/8"]).assertAllowedUrl("https://mixed.example/hook");
    for (const all of [false, true]) {
      assertRefusal((await lookup(policy, all, "mixed.example")).error);
      assert.equal((await lookup(new DestinationPolicy(["10.0.0.0/8"]), all, "mixed.example")).error, null);
    }
  });

  test("a name that does not resolve, or resolves to nothing, is refused like a private one", async () => {
    for (const hostname of ["unresolvable.example", "no-addresses.example"]) {
      await assert.rejects(policy.assertAllowedUrl(`https://${hostname}/hook`), rejection(REFUSED_URL));
      for (const all of [false, true]) assertRefusal((await lookup(policy, all, hostname)).error);
    }
  });
});
