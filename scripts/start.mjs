// `npm start`: compiled, configuration checked, services up, database created and migrated, then API and delivery worker in one process.
import 'dotenv/config';
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { API_NODE_FLAGS, WORKER_NODE_FLAGS } from './node-flags.mjs';
import { ensureServices } from './services.mjs';

// SIGTERM (`kill`, npm passing its own on), SIGINT (Ctrl-C) and SIGHUP (the terminal closed) go to the step or the
// service running now, and this script exits when it does. The children run in a process group of their own, so
// that each gets a signal once, from here: Ctrl-C reaches npm and this script alike, and npm passes it on too,
// while the service would take a second SIGINT as "stop at once" instead of finishing its in-flight work.
let current;
let stopping;
const forwarded = new Set();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    stopping ??= signal;
    if (!current) process.exit(128 + constants.signals[signal]);
    if (forwarded.has(signal)) return;
    forwarded.add(signal);
    current.kill(signal);
  });
}
// Should this script end any other way, the service does not outlive it.
process.on('exit', () => {
  if (current && current.exitCode === null && current.signalCode === null) current.kill('SIGTERM');
});

/** Runs one child with the terminal's output; resolves with its exit code, or the signal that ended it. */
function runChild(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    current = child;
    child.on('error', (error) => {
      current = undefined;
      resolve({ code: 1, error });
    });
    child.on('exit', (code, signal) => {
      current = undefined;
      resolve({ code, signal });
    });
  });
}

/** A preparation step: a failure stops the start with its exit code; so does a signal that stopped the step. */
async function run(args, label) {
  const { code, signal, error } = await runChild(args);
  if (stopping) process.exit(128 + constants.signals[stopping]);
  if (code !== 0) {
    console.error(`agent-events: ${label} failed (exit ${error?.message ?? code ?? signal}).`);
    process.exit(code ?? 1);
  }
}

console.log('agent-events: compiling…');
await run(['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], 'compiling');
// Invalid configuration: the check prints one sentence naming the variable, and nothing more is said here.
const check = await runChild(['dist/src/config/check-config.js']);
if (stopping) process.exit(128 + constants.signals[stopping]);
if (check.code !== 0) process.exit(check.code ?? 1);

try {
  const { databaseUrl, redisUrl } = await ensureServices({ databaseUrl: process.env.DATABASE_URL, redisUrl: process.env.REDIS_URL });
  process.env.DATABASE_URL = databaseUrl;
  process.env.REDIS_URL = redisUrl;
} catch (error) {
  console.error(`agent-events: ${error.message}`);
  process.exit(1);
}

await run(['dist/src/database/migrate.js'], 'migrating the database');

const role = process.argv[2] ?? 'all';
const entry =
  role === 'worker'
    ? [...WORKER_NODE_FLAGS, 'dist/src/worker.js']
    : [...API_NODE_FLAGS, 'dist/src/main.js', ...(role === 'api' ? [] : ['--with-worker'])];
const { code, signal } = await runChild(['--enable-source-maps', ...entry]);
process.exit(code ?? (signal ? 0 : 1));
