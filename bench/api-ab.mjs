// `BENCH_AB_OTHER=<checkout> node bench/api-ab.mjs`: one kind of request on this checkout's API and on another
// checkout's (its `dist/`, built there), side by side. Both APIs run alone (no worker), on one database; the requests
// go to the two in turn, open loop at BENCH_AB_RATE (200) requests/s in all, so both are measured in the same seconds
// and a slow spell of the machine falls on both: the ratio of their CPU per request holds where api-cost's figures,
// taken one kind after another, swing by a third from one minute to the next. BENCH_AB_KIND: `put` (a real status
// change, the default), `get` (an agent) or `health` (`GET /health/live`); BENCH_AB_SECONDS (20) per round,
// BENCH_AB_ROUNDS (4).
import { randomBytes } from 'node:crypto';
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

const OTHER = process.env.BENCH_AB_OTHER;
const KIND = process.env.BENCH_AB_KIND || 'put';
const RATE = Number(process.env.BENCH_AB_RATE || 200);
const SECONDS = Number(process.env.BENCH_AB_SECONDS || 20);
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS || 4);
const AGENTS = 400;
const databaseBase = process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/agent_events';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const stamp = Date.now().toString(36);
const databaseName = `ae_bench_ab_${stamp}`;
const prefixes = [`{ae-bench-ab-${stamp}}`, `{ae-bench-ab-${stamp}-other}`];
const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`;
const CLIENT = 'bench';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** RATE requests/s for `seconds`, to the two APIs in turn; each API's CPU per request and latency. */
async function round(apis, seconds) {
  const total = Math.round(seconds * RATE);
  const before = apis.map((api) => cpuTimes(api.pid));
  const started = performance.now();
  const answers = apis.map(() => []);
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / RATE - performance.now();
    if (wait > 1) await sleep(wait);
    answers[i % 2].push(apis[i % 2].send());
  }
  const results = await Promise.all(answers.map((sent) => Promise.all(sent)));
  return apis.map((api, index) => {
    const after = cpuTimes(api.pid);
    const failed = results[index].filter((result) => result.status < 200 || result.status >= 300);
    if (failed.length > 0)
      throw new Error(`${api.name}: ${failed.length} failed, e.g. ${failed[0].status} ${JSON.stringify(failed[0].body)}`);
    const cpu = after.user + after.system - before[index].user - before[index].system;
    const latency = summarize(results[index].map((result) => result.done - result.sent));
    return { us: Math.round((cpu * 1e6) / results[index].length), p50: latency.p50, p99: latency.p99 };
  });
}

async function main() {
  if (!OTHER) throw new Error('BENCH_AB_OTHER must name another checkout of agent-events, built (npm run build there)');
  if (process.env.BENCH_SKIP_BUILD !== '1') build();
  const databaseUrl = databaseUrlFor(databaseBase, databaseName);
  await ensureServices({ databaseUrl, redisUrl, log: () => undefined });
  const env = serviceEnv({ databaseUrl, queuePrefix: prefixes[0], adminToken, redisUrl });
  const migrate = runService('database/migrate', env, { label: 'migrate' });
  if ((await migrate.exited).code !== 0) throw new Error(`migrations failed:\n${migrate.output()}`);
  const ports = [await freePort(), await freePort()];
  const processes = [
    runService('main', { ...env, PORT: String(ports[0]) }, { label: 'this', nodeArgs: API_NODE_FLAGS }),
    runService(
      'main',
      { ...env, PORT: String(ports[1]), QUEUE_PREFIX: prefixes[1] },
      {
        label: 'other',
        // BENCH_AB_OTHER_NODE_ARGS: Node flags for the other API only (one build against itself, flags against flags).
        nodeArgs: [...API_NODE_FLAGS, ...(process.env.BENCH_AB_OTHER_NODE_ARGS ?? '').split(' ').filter(Boolean)],
        script: `${OTHER}/dist/src/main.js`,
      },
    ),
  ];
  const redis = redisClient(redisUrl);
  try {
    await Promise.all(processes.map((service) => service.waitFor('API ')));
    const clients = ports.map((port) => new Api(`http://127.0.0.1:${port}`, adminToken));
    const { agents } = await setupTenant(clients[0], { url: (path) => `http://127.0.0.1:9${path}` }, { clientId: CLIENT, agents: AGENTS });
    const statuses = new Map();
    let turn = 0;
    // Each API changes its own half of the agents, each change a real one (the status alternates).
    const send = (client, offset) => () => {
      const agent = agents[offset + (turn++ % (AGENTS / 2))];
      if (KIND === 'health') return client.request('GET', '/health/live');
      if (KIND === 'get') return client.request('GET', `/client/${CLIENT}/agent/local/${agent.id}`);
      const status = statuses.get(agent.id) === 'available' ? 'logged_out' : 'available';
      statuses.set(agent.id, status);
      return client.request('PUT', `/client/${CLIENT}/agent/local/${agent.id}`, { status });
    };
    const apis = processes.map((service, index) => ({
      name: service.label,
      pid: service.pid,
      send: send(clients[index], index * (AGENTS / 2)),
    }));
    await round(apis, 5); // warm-up: the JIT, the pools, the caches
    console.log(
      `\n${KIND} at ${RATE} requests/s in all, the two APIs in turn, ${SECONDS} s per round (CPU µs per request, p50 / p99 ms)\n`,
    );
    console.log(`| round | this checkout | ${OTHER} | this ÷ other |\n| --- | --- | --- | --- |`);
    for (let index = 1; index <= ROUNDS; index++) {
      const [mine, theirs] = await round(apis, SECONDS);
      console.log(
        `| ${index} | ${mine.us} (${mine.p50} / ${mine.p99}) | ${theirs.us} (${theirs.p50} / ${theirs.p99}) | ${(mine.us / theirs.us).toFixed(2)} |`,
      );
    }
  } finally {
    await Promise.all(processes.map((service) => service.stop()));
    await dropDatabase(databaseBase, databaseName).catch(() => undefined);
    for (const prefix of prefixes) await deletePrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
