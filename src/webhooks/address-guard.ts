import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { parseCidr } from "../config.ts";
import { ErrorCode, HeraldError } from "../errors.ts";

/**
 * The SSRF guard: a tenant names a URL and Herald calls it, so a URL must never lead into
 * Herald's own network. Targets must be http(s); every address the host resolves to must be a
 * public unicast address — checked when the target is created and again on the address each
 * connection actually uses (`lookup`), so a name that later resolves elsewhere (DNS rebinding) is
 * refused too. `HERALD_WEBHOOK_ALLOW_PRIVATE` opens all of them (true) or some ranges (CIDRs).
 */
export interface AddressGuard {
  /** The parsed URL, or a `BAD_REQUEST` naming why it is refused. */
  checkUrl(url: string): Promise<URL>;
  /** Why connecting to `address` is refused, or undefined when it is allowed. */
  refusal(address: string): string | undefined;
  /** A `lookup` for `http.request` that fails with the refusal instead of connecting. */
  readonly lookup: LookupFunction;
}

/** Ranges no webhook may reach by default: each is loopback, private, link-local (cloud metadata), shared, reserved or not unicast. */
const REFUSED_RANGES: readonly [string, number, "ipv4" | "ipv6", string][] = [
  ["0.0.0.0", 8, "ipv4", "this network"],
  ["10.0.0.0", 8, "ipv4", "private"],
  ["100.64.0.0", 10, "ipv4", "carrier-grade NAT"],
  ["127.0.0.0", 8, "ipv4", "loopback"],
  ["169.254.0.0", 16, "ipv4", "link-local (cloud metadata)"],
  ["172.16.0.0", 12, "ipv4", "private"],
  ["192.0.0.0", 24, "ipv4", "IETF protocol assignments"],
  ["192.0.2.0", 24, "ipv4", "documentation"],
  ["192.168.0.0", 16, "ipv4", "private"],
  ["198.18.0.0", 15, "ipv4", "benchmarking"],
  ["198.51.100.0", 24, "ipv4", "documentation"],
  ["203.0.113.0", 24, "ipv4", "documentation"],
  ["224.0.0.0", 4, "ipv4", "multicast"],
  ["240.0.0.0", 4, "ipv4", "reserved"],
  ["::", 128, "ipv6", "unspecified"],
  ["::1", 128, "ipv6", "loopback"],
  ["64:ff9b::", 96, "ipv6", "NAT64"],
  ["100::", 64, "ipv6", "discard"],
  ["2001:db8::", 32, "ipv6", "documentation"],
  ["fc00::", 7, "ipv6", "unique-local"],
  ["fe80::", 10, "ipv6", "link-local"],
  ["ff00::", 8, "ipv6", "multicast"],
];

export function createAddressGuard({ allowPrivate }: { allowPrivate: boolean | readonly string[] }): AddressGuard {
  const refused = REFUSED_RANGES.map(([address, prefix, family, why]) => {
    const list = new BlockList();
    list.addSubnet(address, prefix, family);
    return { list, family, why, range: `${address}/${prefix}` };
  });
  const allowed = new BlockList();
  for (const range of Array.isArray(allowPrivate) ? allowPrivate : []) {
    const cidr = parseCidr(range)!;
    allowed.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }

  function refusal(raw: string): string | undefined {
    if (allowPrivate === true) return undefined;
    const address = unmapped(raw);
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    if (isIP(address) === 0) return `${raw} is not an IP address`;
    if (allowed.check(address, family)) return undefined;
    for (const range of refused) {
      if (range.family === family && range.list.check(address, family)) {
        return `${raw} is a ${range.why} address (${range.range}); webhooks only reach public addresses unless HERALD_WEBHOOK_ALLOW_PRIVATE allows it`;
      }
    }
    return undefined;
  }

  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 0);
      const blocked = addresses.map((a) => refusal(a.address)).find((why) => why !== undefined);
      if (blocked) return callback(Object.assign(new Error(`Refused: ${hostname} resolves to ${blocked}`), { code: "EREFUSEDADDRESS" }), "", 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };

  return {
    refusal,
    lookup,
    async checkUrl(text) {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw new HeraldError(ErrorCode.BadRequest, `Invalid address ${JSON.stringify(text)}: not a URL`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new HeraldError(ErrorCode.BadRequest, `Invalid address ${JSON.stringify(text)}: only http and https are allowed`);
      }
      if (url.username || url.password) throw new HeraldError(ErrorCode.BadRequest, `Invalid address: credentials in the URL are not allowed`);
      const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
      const addresses = isIP(host) ? [host] : await resolve(host);
      for (const address of addresses) {
        const why = refusal(address);
        if (why) throw new HeraldError(ErrorCode.BadRequest, `Refused address ${url.origin}: ${why}`);
      }
      return url;
    },
  };
}

function resolve(host: string): Promise<string[]> {
  return new Promise((done, fail) =>
    dnsLookup(host, { all: true }, (error, addresses) => {
      if (error) fail(new HeraldError(ErrorCode.BadRequest, `Invalid address: cannot resolve ${host} (${error.code ?? error.message})`));
      else done(addresses.map((a) => a.address));
    }),
  );
}

/** `::ffff:10.0.0.1` (or `::ffff:a00:1`) is 10.0.0.1. */
function unmapped(address: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted) return dotted[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return address;
  const [high, low] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}
