// Installs the npm dependencies when they are missing or older than package-lock.json.
// Runs as the `prestart` / `pretest` hook; silent and near-instant when nothing needs doing.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lockFile = join(root, 'package-lock.json');
const hiddenLockFile = join(root, 'node_modules', '.package-lock.json');
const keyPackages = ['@nestjs/core', 'typescript', 'jest'];

function mtimeMs(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function needsInstall() {
  const installedAt = mtimeMs(hiddenLockFile);
  if (installedAt === undefined) return true;
  const lockedAt = mtimeMs(lockFile);
  if (lockedAt !== undefined && installedAt < lockedAt) return true;
  return keyPackages.some((name) => !existsSync(join(root, 'node_modules', name, 'package.json')));
}

if (needsInstall()) {
  const args = existsSync(lockFile) ? ['ci'] : ['install'];
  console.log(`agent-events: installing dependencies (npm ${args[0]})…`);
  const result = spawnSync('npm', args, {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (result.error) {
    console.error(`agent-events: could not run npm ${args[0]}: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    process.exit(result.status ?? 1);
  }
  // Make sure the next run takes the fast path even if npm left the hidden lockfile untouched.
  if (existsSync(hiddenLockFile)) {
    // Never older than package-lock.json, even if its mtime lies in the future.
    const stamp = new Date(Math.max(Date.now(), mtimeMs(lockFile) ?? 0));
    try {
      utimesSync(hiddenLockFile, stamp, stamp);
    } catch {
      // not fatal: the worst case is one more install on the next run
    }
  }
}
