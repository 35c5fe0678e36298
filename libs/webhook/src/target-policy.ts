import dns from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { refusal, TargetNotAllowedError } from './target-not-allowed-error.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A refusal's `reason` is for whoever configured the target: it names no address (`refused` does, for the operator's log). */
export type UrlCheckResult = { ok: true } | { ok: false; reason: string; refused?: string };

/** The `dns.lookup` form the policy needs; injectable for tests. */
export type AllAddressesResolver = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

// IANA global unicast. Everything else in IPv6 (::/8 with IPv4-compatible ::a.b.c.d, fec0::/10, 5f00::/16…)
// is either special-purpose or unassigned, so nothing legitimate is lost by refusing it.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/**
 * SSRF guard for webhook targets: only public unicast addresses, plus the
 * explicitly allowed CIDRs (e.g. `127.0.0.0/8` for local testing).
 *
 * Use both halves:
 *  - `lookup` on the http(s).Agent, so the address actually connected to is checked
 *    (a hostname could resolve differently later — DNS rebinding);
 *  - `checkUrl` before every request, because Node does not call `lookup` at all when
 *    the URL host is an IP literal.
 */
export class TargetPolicy {
  private readonly allowed: [Address, number][];
  /** What every refusal says: why in general terms, and the hint; the same whatever the address. */
  readonly refusal: string;

  /**
   * `hint` is appended to every refusal, to tell the reader how to allow an address (e.g. the setting to change).
   * Refusals name no address: they say why in general terms, so that a tenant cannot map internal names to addresses.
   */
  constructor(
    allowedCidrs: string[] = [],
    private readonly resolve: AllAddressesResolver = dns.lookup,
    private readonly hint = '',
  ) {
    this.refusal = refusal(hint);
    this.allowed = allowedCidrs.map((entry) => {
      try {
        return ipaddr.parseCIDR(entry.trim());
      } catch {
        throw new Error(`invalid CIDR in allowed target list: "${entry}"`);
      }
    });
  }

  /** True if connecting to `ip` is permitted. Unparseable input is refused. */
  isAllowedAddress(ip: string): boolean {
    let addr: Address;
    try {
      addr = ipaddr.parse(ip);
    } catch {
      return false;
    }
    // ::ffff:a.b.c.d reaches the IPv4 host, so judge (and match CIDRs) as IPv4.
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      addr = (addr as ipaddr.IPv6).toIPv4Address();
    }
    if (this.allowed.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits))) return true;
    if (addr.kind() === 'ipv4') return addr.range() === 'unicast';
    // 'unicast' excludes NAT64, 6to4, Teredo, which embed (possibly private) IPv4 addresses.
    return addr.range() === 'unicast' && addr.match(GLOBAL_UNICAST_V6);
  }

  /**
   * Pre-flight check of a target URL. IP-literal hosts (in any form WHATWG URL normalises,
   * e.g. `http://2130706433/`, `http://0x7f.1/`, `http://[::1]/`) and `localhost` names are
   * judged here; other hostnames pass and are judged by `lookup` at connect time.
   */
  checkUrl(url: string): UrlCheckResult {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { ok: false, reason: 'invalid URL' };
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return { ok: false, reason: `unsupported URL scheme ${parsed.protocol}` };
    }
    const host = parsed.hostname;
    if (host.startsWith('[')) return this.verdict(host.slice(1, -1));
    // WHATWG URL has already turned every numeric IPv4 form into dotted decimal.
    if (ipaddr.IPv4.isValidFourPartDecimal(host)) return this.verdict(host);
    const name = host.endsWith('.') ? host.slice(0, -1) : host;
    if (name === 'localhost' || name.endsWith('.localhost')) {
      // RFC 6761: these names are loopback whatever DNS says.
      const loopbackAllowed = this.isAllowedAddress('127.0.0.1') || this.isAllowedAddress('::1');
      return loopbackAllowed ? { ok: true } : { ok: false, reason: this.refusal, refused: host };
    }
    return { ok: true };
  }

  /**
   * Drop-in for `dns.lookup` / `net.LookupFunction` (both `all` modes). Resolves, then
   * fails with a TargetNotAllowedError (code TARGET_NOT_ALLOWED) if ANY address is
   * refused, so a mixed public/private answer cannot slip through on a retry.
   */
  readonly lookup = ((
    hostname: string,
    optionsOrCallback: LookupOptions | number | LookupCallback,
    maybeCallback?: LookupCallback,
  ): void => {
    const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as LookupCallback;
    const options: LookupOptions =
      typeof optionsOrCallback === 'number'
        ? { family: optionsOrCallback }
        : typeof optionsOrCallback === 'object' && optionsOrCallback !== null
          ? optionsOrCallback
          : {};
    this.resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, options.all ? [] : '');
      const refused = addresses.find((a) => !this.isAllowedAddress(a.address));
      if (refused) return callback(new TargetNotAllowedError(refused.address, this.hint), options.all ? [] : '');
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) {
        const notFound: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
        notFound.code = 'ENOTFOUND';
        return callback(notFound, '');
      }
      callback(null, first.address, first.family);
    });
  }) as LookupFunction;

  private verdict(ip: string): UrlCheckResult {
    return this.isAllowedAddress(ip) ? { ok: true } : { ok: false, reason: this.refusal, refused: ip };
  }
}

type LookupCallback = Parameters<LookupFunction>[2];
