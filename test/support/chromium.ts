import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's Chromium; never a browser build downloaded by a test tool. */
export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet headless run that talks to nobody but the page under test. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Makes sure Debian's `chromium` is installed: as root it is installed with apt-get when missing, otherwise it must be. */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`The browser tests need Chromium at ${CHROMIUM}: install it with "apt-get install -y chromium" as root.`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another apt run (or another developer's test run) may hold the lock: wait for it rather than fail.
  const apt = (...args: string[]) =>
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let install = apt('install', '-y', 'chromium');
  if (install.status !== 0) {
    apt('update');
    install = apt('install', '-y', 'chromium');
  }
  if (install.status !== 0 || !existsSync(CHROMIUM)) {
    throw new Error(
      `Installing chromium with apt-get failed: ${(install.stderr || install.stdout).trim().split('\n').slice(-3).join(' ')}`,
    );
  }
  return CHROMIUM;
}
