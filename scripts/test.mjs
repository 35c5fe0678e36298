// `npm test`: unit and e2e suites against real MariaDB and Redis; every run gets databases and queue
// prefixes of its own (named after AE_TEST_RUN), so two runs never collide.
import 'dotenv/config';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ensureServices } from './services.mjs';

try {
  // The suites name their databases after the run (ae_<run>_<suite>) and drop them: none is made here.
  const { databaseUrl, redisUrl } = await ensureServices({
    databaseUrl: process.env.DATABASE_URL,
    redisUrl: process.env.REDIS_URL,
    createDatabase: false,
  });
  process.env.DATABASE_URL = databaseUrl;
  process.env.REDIS_URL = redisUrl;
} catch (error) {
  console.error(`agent-events: ${error.message}`);
  process.exit(1);
}

// `--chaos` (npm run test:chaos): the multi-process and fault suites, one at a time (they start processes and servers).
const chaos = process.argv.includes('--chaos');
if (chaos) process.env.AE_CHAOS = '1';
const args = process.argv.slice(2).filter((arg) => arg !== '--chaos');

// The suites that run the compiled service build it first (test/support/processes.ts), as does `npm start` in the
// operations suite, while other suites' processes run from dist/. Built once here, before any suite, those builds find
// nothing changed (tsconfig.build.json is incremental) and write nothing: a process never loads a file being rewritten.
const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.error('agent-events: the service does not compile (tsc -p tsconfig.build.json); the tests were not run.');
  process.exit(1);
}

process.env.AE_TEST_RUN ||= `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim();
const result = spawnSync(process.execPath, ['node_modules/jest/bin/jest.js', chaos ? '--runInBand' : '--maxWorkers=2', ...args], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
