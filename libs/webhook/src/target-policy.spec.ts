import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { TargetNotAllowedError } from './target-not-allowed-error.js';
import { TargetPolicy, type AllAddressesResolver } from './target-policy.js';

const REASON = 'the target is a private or loopback address (or another non-public one)';

type LookupResult = { err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number };

function lookupWith(policy: TargetPolicy, host: string, options: Parameters<TargetPolicy['lookup']>[1]) {
  return new Promise<LookupResult>((resolve) => policy.lookup(host, options, (err, address, family) => resolve({ err, address, family })));
}

const fakeResolver =
  (answer: LookupAddress[] | NodeJS.ErrnoException): AllAddressesResolver =>
  (_host, _options, callback) =>
    answer instanceof Error ? callback(answer, []) : callback(null, answer);

describe('TargetPolicy.isAllowedAddress', () => {
  const policy = new TargetPolicy();

  it.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '2a00:1450:4010:c05::64', '::ffff:8.8.8.8'])(
    'allows public unicast %s',
    (ip) => {
      expect(policy.isAllowedAddress(ip)).toBe(true);
    },
  );

  it.each([
    ['loopback', '127.0.0.1'],
    ['loopback (whole /8)', '127.255.0.9'],
    ['loopback v6', '::1'],
    ['RFC1918 10/8', '10.1.2.3'],
    ['RFC1918 172.16/12', '172.31.255.254'],
    ['RFC1918 192.168/16', '192.168.0.1'],
    ['link-local / cloud metadata', '169.254.169.254'],
    ['link-local v6', 'fe80::1'],
    ['unique-local v6', 'fd00::1'],
    ['unique-local v6 fc00', 'fc00::1'],
    ['CGNAT', '100.64.0.1'],
    ['CGNAT upper end', '100.127.255.255'],
    ['multicast', '224.0.0.1'],
    ['multicast v6', 'ff02::1'],
    ['unspecified', '0.0.0.0'],
    ['"this network" 0/8', '0.1.2.3'],
    ['unspecified v6', '::'],
    ['broadcast', '255.255.255.255'],
    ['reserved 240/4', '240.0.0.1'],
    ['benchmarking', '198.18.0.1'],
    ['documentation TEST-NET-1', '192.0.2.1'],
    ['documentation TEST-NET-3', '203.0.113.7'],
    ['documentation v6', '2001:db8::1'],
    ['IPv4-mapped loopback', '::ffff:127.0.0.1'],
    ['IPv4-mapped private (hex form)', '::ffff:a00:1'],
    ['IPv4-compatible loopback (dotted)', '::127.0.0.1'],
    ['IPv4-compatible loopback (hex)', '::7f00:1'],
    ['IPv4-compatible private (hex)', '::a00:1'],
    ['unassigned v6 outside 2000::/3', '4000::1'],
    ['NAT64 embedding private IPv4', '64:ff9b::10.0.0.1'],
    ['6to4 embedding loopback', '2002:7f00:1::1'],
    ['Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    ['deprecated site-local', 'fec0::1'],
    ['not an address', 'example.com'],
    ['empty string', ''],
  ])('refuses %s (%s)', (_label, ip) => {
    expect(policy.isAllowedAddress(ip)).toBe(false);
  });

  it('allows what the configured CIDRs cover, and only that', () => {
    const p = new TargetPolicy(['127.0.0.0/8', '::1/128', ' 10.20.0.0/16 ']);
    expect(p.isAllowedAddress('127.0.0.1')).toBe(true);
    expect(p.isAllowedAddress('::1')).toBe(true);
    expect(p.isAllowedAddress('::ffff:127.0.0.1')).toBe(true); // mapped form judged as IPv4
    expect(p.isAllowedAddress('10.20.3.4')).toBe(true);
    expect(p.isAllowedAddress('10.21.0.1')).toBe(false);
    expect(p.isAllowedAddress('192.168.1.1')).toBe(false);
    expect(p.isAllowedAddress('64:ff9b::127.0.0.1')).toBe(false);
  });

  it('names the bad entry when a CIDR cannot be parsed', () => {
    expect(() => new TargetPolicy(['127.0.0.0/8', '10.0.0.0/33'])).toThrow('invalid CIDR in allowed target list: "10.0.0.0/33"');
    expect(() => new TargetPolicy(['localhost'])).toThrow(/"localhost"/);
    expect(() => new TargetPolicy(['10.0.0.1'])).toThrow(/"10.0.0.1"/);
  });
});

describe('TargetPolicy.checkUrl', () => {
  const policy = new TargetPolicy();

  it.each([
    'https://hooks.example.com/agent?x=1',
    'http://8.8.8.8:8080/hook',
    'https://[2606:4700:4700::1111]/hook',
    'https://internal.corp/hook', // hostnames are judged at connect time
  ])('accepts %s', (url) => {
    expect(policy.checkUrl(url)).toEqual({ ok: true });
  });

  it.each([
    ['http://127.0.0.1/', '127.0.0.1'],
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://127.0.0.1./', '127.0.0.1'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://0/', '0.0.0.0'],
    ['http://[::1]:3000/', '::1'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1'],
    ['https://[fd12:3456::1]/', 'fd12:3456::1'],
    ['http://localhost:3000/', 'localhost'],
    ['http://LOCALHOST./', 'localhost.'],
    ['http://api.localhost/', 'api.localhost'],
  ])('refuses %s, saying why in general terms and naming the address (%s) only for the log', (url, refused) => {
    expect(policy.checkUrl(url)).toEqual({ ok: false, reason: REASON, refused });
  });

  it('ends every refusal with its hint, and names no address in it', () => {
    const hinted = new TargetPolicy([], undefined, 'not in WEBHOOK_ALLOWED_CIDRS');
    for (const url of ['http://127.0.0.9/', 'http://[fd00::1]/', 'http://localhost/', 'http://10.1.2.3:8080/']) {
      const verdict = hinted.checkUrl(url);
      expect(verdict).toMatchObject({ ok: false, reason: `${REASON}, not in WEBHOOK_ALLOWED_CIDRS` });
    }
    expect(hinted.refusal).toBe(`${REASON}, not in WEBHOOK_ALLOWED_CIDRS`);
  });

  it('refuses invalid URLs and non-HTTP schemes', () => {
    expect(policy.checkUrl('not a url')).toEqual({ ok: false, reason: 'invalid URL' });
    expect(policy.checkUrl('ftp://8.8.8.8/')).toEqual({ ok: false, reason: 'unsupported URL scheme ftp:' });
    expect(policy.checkUrl('file:///etc/passwd')).toEqual({ ok: false, reason: 'unsupported URL scheme file:' });
  });

  it('lets allowed CIDRs through, including localhost when loopback is allowed', () => {
    const p = new TargetPolicy(['127.0.0.0/8']);
    expect(p.checkUrl('http://127.0.0.1:8080/')).toEqual({ ok: true });
    expect(p.checkUrl('http://0x7f.1/')).toEqual({ ok: true });
    expect(p.checkUrl('http://localhost:8080/')).toEqual({ ok: true });
    expect(p.checkUrl('http://[::1]/').ok).toBe(false);
    expect(p.checkUrl('http://10.0.0.1/').ok).toBe(false);
  });
});

describe('TargetPolicy.lookup', () => {
  it('returns the first address (all: false) or all addresses (all: true) when allowed', async () => {
    const answer = [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ];
    const policy = new TargetPolicy([], fakeResolver(answer));
    expect(await lookupWith(policy, 'example.com', {})).toEqual({ err: null, address: '93.184.216.34', family: 4 });
    expect(await lookupWith(policy, 'example.com', { all: true })).toEqual({
      err: null,
      address: answer,
      family: undefined,
    });
  });

  it('refuses the whole answer if any address is private (DNS rebinding)', async () => {
    const policy = new TargetPolicy(
      [],
      fakeResolver([
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.7', family: 4 },
      ]),
    );
    for (const options of [{}, { all: true }]) {
      const { err } = await lookupWith(policy, 'rebind.example', options);
      expect(err).toBeInstanceOf(TargetNotAllowedError);
      expect(err).toMatchObject({ code: 'TARGET_NOT_ALLOWED', address: '10.0.0.7', message: `target not allowed: ${REASON}` });
    }
  });

  it('passes resolver errors through and treats an empty answer as not found', async () => {
    const nx: NodeJS.ErrnoException = Object.assign(new Error('getaddrinfo ENOTFOUND nope.example'), {
      code: 'ENOTFOUND',
    });
    expect((await lookupWith(new TargetPolicy([], fakeResolver(nx)), 'nope.example', {})).err).toBe(nx);
    expect((await lookupWith(new TargetPolicy([], fakeResolver([])), 'empty.example', {})).err).toMatchObject({
      code: 'ENOTFOUND',
    });
  });

  it('forwards family/hints to the resolver and always asks for all addresses', async () => {
    const seen: unknown[] = [];
    const policy = new TargetPolicy([], (host, options, callback) => {
      seen.push({ host, options });
      callback(null, [{ address: '8.8.8.8', family: 4 }]);
    });
    await lookupWith(policy, 'dns.example', { family: 4, hints: 32 });
    expect(seen).toEqual([{ host: 'dns.example', options: { family: 4, hints: 32, all: true } }]);
  });

  it('accepts the dns.lookup(host, callback) and dns.lookup(host, family, callback) forms', async () => {
    const policy = new TargetPolicy(['127.0.0.0/8']);
    const viaCallbackOnly = await new Promise<unknown[]>((resolve) =>
      (policy.lookup as unknown as (h: string, cb: (...args: unknown[]) => void) => void)('127.0.0.1', (...args) => resolve(args)),
    );
    expect(viaCallbackOnly).toEqual([null, '127.0.0.1', 4]);
    const viaFamily = await new Promise<unknown[]>((resolve) =>
      (policy.lookup as unknown as (h: string, f: number, cb: (...args: unknown[]) => void) => void)('localhost', 4, (...args) =>
        resolve(args),
      ),
    );
    expect(viaFamily).toEqual([null, '127.0.0.1', 4]);
  });

  it('checks IP literals with the real dns.lookup too', async () => {
    const refused = await lookupWith(new TargetPolicy(), '127.0.0.1', { all: true });
    expect(refused.err).toMatchObject({ code: 'TARGET_NOT_ALLOWED' });
    const allowed = await lookupWith(new TargetPolicy(['127.0.0.0/8']), '127.0.0.1', { all: true });
    expect(allowed).toEqual({ err: null, address: [{ address: '127.0.0.1', family: 4 }], family: undefined });
  });

  describe('on a real http.Agent', () => {
    let server: http.Server;
    let port: number;

    beforeAll(async () => {
      server = http.createServer((_req, res) => res.end('pong'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });

    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    function get(policy: TargetPolicy, host: string) {
      const agent = new http.Agent({ keepAlive: true, lookup: policy.lookup });
      return new Promise<string>((resolve, reject) => {
        // family 4: the server listens on 127.0.0.1 only.
        http
          .get({ host, port, path: '/', agent, family: 4 }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      }).finally(() => agent.destroy());
    }

    it('refuses a hostname resolving to loopback without allowed CIDRs', async () => {
      await expect(get(new TargetPolicy(), 'localhost')).rejects.toMatchObject({
        code: 'TARGET_NOT_ALLOWED',
        address: '127.0.0.1',
        message: `target not allowed: ${REASON}`,
      });
    });

    it('connects when 127.0.0.0/8 is allowed', async () => {
      await expect(get(new TargetPolicy(['127.0.0.0/8']), 'localhost')).resolves.toBe('pong');
    });

    it('is bypassed by Node for IP-literal hosts, which is why callers must run checkUrl first', async () => {
      const policy = new TargetPolicy();
      await expect(get(policy, '127.0.0.1')).resolves.toBe('pong');
      expect(policy.checkUrl(`http://127.0.0.1:${port}/`).ok).toBe(false);
    });
  });
});
