// `npm start`: compiled, configuration checked, services up, database created and migrated, then API and delivery worker in one process.
import 'dotenv/config';
import { spawn, spawnSync } from 'node:child_process';
import { API_NODE_FLAGS, WORKER_NODE_FLAGS } from './node-flags.mjs';
import { ensureServices } from './services.mjs';

function run(command, args, label) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`agent-events: ${label} failed (exit ${result.status ?? result.signal}).`);
    process.exit(result.status ?? 1);
  }
}

console.log('agent-events: compiling…');
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], 'compiling');
// Invalid configuration: the check prints one sentence naming the variable, and nothing more is said here.
const check = spawnSync(process.execPath, ['dist/src/config/check-config.js'], { stdio: 'inherit' });
if (check.status !== 0) process.exit(check.status ?? 1);

try {
  const { databaseUrl, redisUrl } = await ensureServices({ databaseUrl: process.env.DATABASE_URL, redisUrl: process.env.REDIS_URL });
  process.env.DATABASE_URL = databaseUrl;
  process.env.REDIS_URL = redisUrl;
} catch (error) {
  console.error(`agent-events: ${error.message}`);
  process.exit(1);
}

run(process.execPath, ['dist/src/database/migrate.js'], 'migrating the database');

const role = process.argv[2] ?? 'all';
const entry =
  role === 'worker'
    ? [...WORKER_NODE_FLAGS, 'dist/src/worker.js']
    : [...API_NODE_FLAGS, 'dist/src/main.js', ...(role === 'api' ? [] : ['--with-worker'])];
const child = spawn(process.execPath, ['--enable-source-maps', ...entry], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
