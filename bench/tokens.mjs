// Client credentials: tokens issued per second (one application asking again and again, as client code that
// fetches a token before every call does), and what a client token adds to a request (the same GET with the
// admin token and with a client token). The API runs as in production, in a process of its own.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { ensureServices } from '../scripts/services.mjs';
import {
  build,
  cpuSeconds,
  databaseUrlFor,
  deletePrefix,
  dropDatabase,
  freePort,
  profileArgs,
  redisClient,
  runService,
} from './lib/infra.mjs';
import { summarize } from './lib/stats.mjs';

const SECONDS = Number(process.env.BENCH_TOKEN_SECONDS || 5);
const ROUNDS = Number(process.env.BENCH_TOKEN_ROUNDS || 3);
const LANES = Number(process.env.BENCH_TOKEN_CONCURRENCY || 16);
const databaseBase = process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/agent_events';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const stamp = Date.now().toString(36);
const databaseName = `ae_bench_tokens_${stamp}`;
const queuePrefix = `{ae-bench-tokens-${stamp}}`;
const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`;

const agent = new http.Agent({ keepAlive: true, maxSockets: LANES });
let port;
let apiPid;

function send(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: response.statusCode, body: text ? JSON.parse(text) : undefined, ms: performance.now() - started });
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** LANES requests always in flight for SECONDS: requests/s and latency (ms); every answer must be `status`. */
async function closedLoop(label, status, makeRequest) {
  const latencies = [];
  const cpuBefore = cpuSeconds(apiPid);
  const until = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      while (performance.now() < until) {
        const response = await makeRequest();
        if (response.status !== status) throw new Error(`${label}: answered ${response.status} ${JSON.stringify(response.body)}`);
        latencies.push(response.ms);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const summary = summarize(latencies);
  // CPU of the API process per request: what a request costs, whatever else the machine is doing.
  const cpuUs = Math.round(((cpuSeconds(apiPid) - cpuBefore) * 1e6) / latencies.length);
  return { label, perSecond: Math.round(latencies.length / seconds), p50: summary.p50, p99: summary.p99, cpuUs };
}

const json = (token, body) => ({
  authorization: `Bearer ${token}`,
  ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
});

async function main() {
  if (process.env.BENCH_SKIP_BUILD !== '1') build();
  const databaseUrl = databaseUrlFor(databaseBase, databaseName);
  await ensureServices({ databaseUrl, redisUrl, log: () => undefined });
  port = await freePort();
  const env = {
    NODE_ENV: 'production',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: queuePrefix,
    ADMIN_TOKEN: adminToken,
    PBX_TOKEN: `bench-pbx-${randomBytes(12).toString('hex')}`,
    TOKEN_SIGNING_KEY: randomBytes(32).toString('hex'),
    RATE_LIMIT_PER_HOUR: '100000000',
  };
  const migrate = runService('database/migrate', env, { label: 'migrate' });
  if ((await migrate.exited).code !== 0) throw new Error(`migrations failed:\n${migrate.output()}`);
  // BENCH_PROFILE=1: --cpu-prof on the API (bench/results/tmp/profiles/; summarise with bench/profile-top.mjs).
  const nodeArgs =
    process.env.BENCH_PROFILE === '1' ? profileArgs(new URL('./results/tmp/profiles', import.meta.url).pathname, 'tokens-api') : [];
  const api = runService('main', env, { label: 'api', nodeArgs });
  const redis = redisClient(redisUrl);
  try {
    await api.waitFor('API ');
    apiPid = api.pid;
    const clientBody = JSON.stringify({ id: 'bench', name: 'Bench' });
    await send('POST', '/client/', json(adminToken, clientBody), clientBody);
    const appBody = JSON.stringify({ name: 'bench' });
    const app = (await send('POST', '/client/bench/app/', json(adminToken, appBody), appBody)).body;
    const form = new URLSearchParams({ grant_type: 'client_credentials', ...app }).toString();
    const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) };
    const first = await send('POST', '/oauth/token', formHeaders, form);
    const clientToken = first.body.access_token;

    // Warm-up: the JIT, the pools, the caches.
    await closedLoop('warm-up', 200, () => send('GET', '/client/bench/limit/', json(adminToken)));
    const tokens = await closedLoop('POST /oauth/token (same application)', 200, () => send('POST', '/oauth/token', formHeaders, form));
    // Admin and client runs alternate, so drift on a shared machine hits both alike; the median of each is shown.
    const runs = { admin: [], client: [] };
    for (let round = 0; round < ROUNDS; round++) {
      runs.admin.push(await closedLoop('admin', 200, () => send('GET', '/client/bench/limit/', json(adminToken))));
      runs.client.push(await closedLoop('client', 200, () => send('GET', '/client/@me/limit/', json(clientToken))));
    }
    const median = (list, field = 'perSecond') => [...list].sort((x, y) => x[field] - y[field])[Math.floor(list.length / 2)];
    const admin = { ...median(runs.admin), label: 'GET /client/bench/limit/ with the admin token' };
    const client = { ...median(runs.client), label: 'GET /client/@me/limit/ with a client token' };

    console.log(`\nfirst token (argon2 verify): ${first.ms.toFixed(1)} ms; ${LANES} requests in flight, ${SECONDS} s per run`);
    console.log(`GET runs: ${ROUNDS} of each, alternating; the median run is shown\n`);
    console.log('| what | requests/s | p50 ms | p99 ms | API CPU µs/request |\n| --- | --- | --- | --- | --- |');
    for (const figure of [tokens, admin, client]) {
      console.log(`| ${figure.label} | ${figure.perSecond} | ${figure.p50} | ${figure.p99} | ${figure.cpuUs} |`);
    }
    const cpuAdded = median(runs.client, 'cpuUs').cpuUs - median(runs.admin, 'cpuUs').cpuUs;
    // At a fixed number in flight, the mean time per request is LANES / throughput.
    const addedUs = (LANES / client.perSecond - LANES / admin.perSecond) * 1e6;
    console.log(
      `\nclient token vs admin token: ${((client.perSecond / admin.perSecond) * 100).toFixed(0)} % of the throughput, ` +
        `${Math.round(addedUs)} µs more time per request; API CPU per request ${cpuAdded >= 0 ? '+' : ''}${cpuAdded} µs ` +
        '(HMAC check, cached application, Redis budget count; medians)',
    );
  } finally {
    await api.stop();
    agent.destroy();
    await deletePrefix(redis, queuePrefix);
    redis.disconnect();
    await dropDatabase(databaseBase, databaseName);
  }
}

await main();
