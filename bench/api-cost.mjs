// `node bench/api-cost.mjs`: what one request costs the API process at an everyday rate, by kind of request, beside
// the naive reference's API (bench/naive/api.mjs) for the status change. Both run alone (no worker: the jobs stay in
// Redis), as in production, on one database of their own; each kind is sent open loop at BENCH_API_COST_RATE (200)
// requests/s for BENCH_API_COST_SECONDS (15) s, the kinds taking turns for BENCH_API_COST_ROUNDS (2) rounds, and the
// API's user and system CPU (/proc) is read around each. At this rate nearly every request wakes the process on its
// own, so its fixed costs show: the framework's, each round trip's, the event loop's.
// BENCH_API_COST_PERF=1 runs both with --perf-basic-prof and records the last round of each kind with Linux `perf`
// (CPU time, kernel included, by JavaScript function: unlike V8's --cpu-prof, a process waiting for a core in a
// syscall is not counted as busy there). Read with `perf report -i <file> --no-children --sort sym`.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { ensureServices } from '../scripts/services.mjs';
import { API_NODE_FLAGS } from '../scripts/node-flags.mjs';
import { Api } from './lib/http.mjs';
import {
  build,
  cpuTimes,
  databaseUrlFor,
  deletePrefix,
  dropDatabase,
  freePort,
  redisClient,
  runService,
  serviceEnv,
} from './lib/infra.mjs';
import { setupTenant } from './lib/setup.mjs';
import { summarize } from './lib/stats.mjs';

const RATE = Number(process.env.BENCH_API_COST_RATE || 200);
const SECONDS = Number(process.env.BENCH_API_COST_SECONDS || 15);
const ROUNDS = Number(process.env.BENCH_API_COST_ROUNDS || 2);
const AGENTS = 400;
const PERF = process.env.BENCH_API_COST_PERF === '1';
const PERF_DIR = new URL('./results/tmp/perf', import.meta.url).pathname;
const databaseBase = process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/agent_events';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const stamp = Date.now().toString(36);
const databaseName = `ae_bench_apicost_${stamp}`;
const queuePrefix = `{ae-bench-apicost-${stamp}}`;
const naivePrefix = `{ae-bench-apicost-${stamp}-naive}`;
const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`;
const CLIENT = 'bench';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `send()` RATE times a second for `seconds`, open loop; the process's CPU per request and the latencies. */
async function openLoop(pid, send, seconds, perfFile) {
  const total = Math.round(seconds * RATE);
  const perf = perfFile
    ? spawn(
        'perf',
        ['record', '-e', 'cpu-clock', '-F', '999', '-g', '-p', String(pid), '-o', perfFile, '--', 'sleep', String(seconds - 1)],
        {
          stdio: 'ignore',
        },
      )
    : null;
  const perfDone = perf && new Promise((resolve) => perf.on('exit', resolve));
  const before = cpuTimes(pid);
  const started = performance.now();
  const answers = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / RATE - performance.now();
    if (wait > 1) await sleep(wait);
    answers.push(send());
  }
  const results = await Promise.all(answers);
  const after = cpuTimes(pid);
  await perfDone;
  const failed = results.filter((result) => result.status < 200 || result.status >= 300);
  if (failed.length > 0) throw new Error(`${failed.length} of ${total} failed, e.g. ${failed[0].status} ${JSON.stringify(failed[0].body)}`);
  const latency = summarize(results.map((result) => result.done - result.sent));
  const us = (seconds) => Math.round((seconds * 1e6) / total);
  return { user: us(after.user - before.user), system: us(after.system - before.system), p50: latency.p50, p99: latency.p99 };
}

async function main() {
  if (process.env.BENCH_SKIP_BUILD !== '1') build();
  const databaseUrl = databaseUrlFor(databaseBase, databaseName);
  await ensureServices({ databaseUrl, redisUrl, log: () => undefined });
  if (PERF) {
    if (spawnSync('perf', ['--version']).status !== 0) throw new Error('BENCH_API_COST_PERF=1 needs Linux perf (Debian: linux-perf)');
    mkdirSync(PERF_DIR, { recursive: true });
  }
  const nodeArgs = PERF ? ['--perf-basic-prof'] : [];
  const [port, naivePort] = [await freePort(), await freePort()];
  // As the bench runs the service (bench/lib/infra.mjs; BENCH_SERVICE_X=v passes X=v), on a port of its own.
  const env = { ...serviceEnv({ databaseUrl, queuePrefix, adminToken, redisUrl }), PORT: String(port) };
  const migrate = runService('database/migrate', env, { label: 'migrate' });
  if ((await migrate.exited).code !== 0) throw new Error(`migrations failed:\n${migrate.output()}`);
  const api = runService('main', env, { label: 'api', nodeArgs: [...API_NODE_FLAGS, ...nodeArgs] });
  const naiveEnv = { ...env, PORT: String(naivePort), QUEUE_PREFIX: naivePrefix };
  const naive = runService('naive-api', naiveEnv, { label: 'naive-api', script: 'bench/naive/api.mjs', nodeArgs });
  const redis = redisClient(redisUrl);
  try {
    await Promise.all([api.waitFor('API '), naive.waitFor('naive api ready')]);
    const service = new Api(`http://127.0.0.1:${port}`, adminToken);
    const naiveApi = new Api(`http://127.0.0.1:${naivePort}`, adminToken);
    // Agents with an agent-login and an agent-logout event each (a port nothing listens on: no worker sends).
    const { agents } = await setupTenant(service, { url: (path) => `http://127.0.0.1:9${path}` }, { clientId: CLIENT, agents: AGENTS });
    // Each side changes its own half of the agents, each change a real one (the status alternates).
    const half = AGENTS / 2;
    const statuses = new Map();
    let turn = 0;
    const change = (client, offset) => () => {
      const agent = agents[offset + (turn++ % half)];
      const status = statuses.get(agent.id) === 'available' ? 'logged_out' : 'available';
      statuses.set(agent.id, status);
      return client.request('PUT', `/client/${CLIENT}/agent/local/${agent.id}`, { status });
    };
    const kinds = [
      { name: 'GET /health/live (no database, no Redis)', pid: api.pid, send: () => service.request('GET', '/health/live') },
      {
        name: 'GET an agent (one SELECT)',
        pid: api.pid,
        send: () => service.request('GET', `/client/${CLIENT}/agent/local/${agents[turn++ % AGENTS].id}`),
      },
      { name: 'PUT an agent status: a real change (the service)', pid: api.pid, send: change(service, 0) },
      { name: 'PUT an agent status: a real change (naive reference)', pid: naive.pid, send: change(naiveApi, half) },
    ];
    // Warm-up: the JIT, the pools, the caches.
    for (const kind of kinds) await openLoop(kind.pid, kind.send, 5);
    const runs = kinds.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, kind] of kinds.entries()) {
        const perfFile = PERF && round === ROUNDS - 1 ? `${PERF_DIR}/api-cost-${stamp}-${index}.data` : undefined;
        runs[index].push(await openLoop(kind.pid, kind.send, SECONDS, perfFile));
        console.error(`[api-cost] round ${round + 1}, ${kind.name}: ${JSON.stringify(runs[index].at(-1))}`);
      }
    }
    console.log(`\nAPI CPU per request at ${RATE} requests/s, open loop, ${SECONDS} s per run, ${ROUNDS} rounds taking turns`);
    console.log('(user + system µs of the API process, each round; latency of the last round)\n');
    console.log('| request | CPU µs per request (user + system) | p50 / p99 ms |\n| --- | --- | --- |');
    for (const [index, kind] of kinds.entries()) {
      const cells = runs[index].map((run) => `${run.user + run.system} (${run.user} + ${run.system})`).join(', ');
      const last = runs[index].at(-1);
      console.log(`| ${kind.name} | ${cells} | ${last.p50} / ${last.p99} |`);
    }
    if (PERF) console.log(`\nperf recordings: ${PERF_DIR}/api-cost-${stamp}-<0..${kinds.length - 1}>.data (the kinds in this order)`);
  } finally {
    await Promise.all([api.stop(), naive.stop()]);
    await Promise.all([deletePrefix(redis, queuePrefix), deletePrefix(redis, naivePrefix)]).catch(() => undefined);
    await dropDatabase(databaseBase, databaseName).catch(() => undefined);
    redis.disconnect();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
