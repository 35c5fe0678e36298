import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';

/** A host name other than `localhost` that this machine resolves to a loopback address. */
export async function loopbackName(): Promise<string> {
  for (const name of [hostname(), 'vm', 'runsc', 'localhost.localdomain', 'ip6-localhost']) {
    const address = await lookup(name).then(
      (result) => result.address,
      () => '',
    );
    if (address.startsWith('127.') || address === '::1') return name;
  }
  throw new Error('no host name other than localhost resolves to loopback here');
}
