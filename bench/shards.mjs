// `node bench/shards.mjs`: Redis CPU per delivery with QUEUE_SHARDS=1 against QUEUE_SHARDS=3, in one run, on a Redis
// Cluster of 3 masters the bench starts on loopback ports of its own (redis-server and redis-cli on PATH; the shared
// Redis is not touched). Each configuration gets the same fixed load: an API and a worker on the cluster, BENCH_SHARDS_
// CLIENTS clients with 20 agents each, BENCH_SHARDS_RATE status changes/s for BENCH_SHARDS_SECONDS, every webhook
// checked. Per master: used_cpu_sys + used_cpu_user (INFO CPU) from the first change until the last delivery, less what
// the idle cluster uses, divided by the deliveries. Writes bench/results/<machine>-<date>-shards.{md,json}.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { config } from './lib/config.mjs';
import { Receiver } from './lib/receiver.mjs';
import { Api } from './lib/http.mjs';
import { setupTenant } from './lib/setup.mjs';
import { cleanUpOnExit, ROOT, build, freePort, dropDatabase, databaseUrlFor, runService, round2, serviceEnv } from './lib/infra.mjs';
import { ensureServices } from '../scripts/services.mjs';
import { WORKER_NODE_FLAGS } from '../scripts/node-flags.mjs';

const T0 = performance.now();
const log = (...args) => console.log(`[shards ${((performance.now() - T0) / 1000).toFixed(1).padStart(6)} s]`, ...args);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const num = (name, fallback) => Number(process.env[name] || fallback);

const RATE = num('BENCH_SHARDS_RATE', 150);
const SECONDS = num('BENCH_SHARDS_SECONDS', 20);
const CLIENTS = num('BENCH_SHARDS_CLIENTS', 12);
const AGENTS_PER_CLIENT = 20;
const IDLE_SECONDS = 5;

const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14) + randomBytes(2).toString('hex');
const databaseName = `ae_bench_shards_${stamp}`;
const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`;
const state = { services: [], cluster: [], clusterDir: null, receiver: null, db: null, databaseCreated: false, cleaned: false };

async function cleanup() {
  if (state.cleaned) return;
  state.cleaned = true;
  await Promise.all(state.services.map((service) => service.stop(8_000).catch(() => undefined)));
  await state.db?.end().catch(() => undefined);
  for (const node of state.cluster) node.child.kill('SIGKILL');
  if (state.clusterDir) rmSync(state.clusterDir, { recursive: true, force: true });
  if (state.databaseCreated) await dropDatabase(config.databaseUrl, databaseName).catch((error) => log(`could not drop: ${error.message}`));
  await state.receiver?.stop().catch(() => undefined);
}
const deadline = cleanUpOnExit(cleanup, config.maxSeconds, log);

const redisCli = (port, ...args) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout ?? '';

/** Seconds of CPU the Redis server on `port` has used (INFO CPU: system + user, main thread and the rest). */
function redisCpu(port) {
  const info = redisCli(port, 'INFO', 'CPU');
  const field = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_sys') + field('used_cpu_user');
}

/** A Redis Cluster of 3 masters without replicas (`redis-cli --cluster create` splits the slots in 3 equal runs). */
async function startCluster() {
  state.clusterDir = mkdtempSync(join(tmpdir(), 'ae-bench-cluster-'));
  for (let index = 0; index < 3; index++) {
    const [port, busPort] = [await freePort(), await freePort()];
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', state.clusterDir, '--save', '', '--appendonly', 'no'];
    args.push('--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', `nodes-${port}.conf`);
    state.cluster.push({ port, child: spawn('redis-server', args, { stdio: 'ignore' }) });
  }
  for (const node of state.cluster) while (redisCli(node.port, 'PING').trim() !== 'PONG') await sleep(100);
  const nodes = state.cluster.map((node) => `127.0.0.1:${node.port}`);
  redisCli(state.cluster[0].port, '--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes');
  while (!state.cluster.every((node) => redisCli(node.port, 'CLUSTER', 'INFO').includes('cluster_state:ok'))) await sleep(200);
  return nodes;
}

/** Each master's CPU seconds per second while nothing but the cluster itself runs (its gossip, its cron). */
async function idleCpuRates() {
  const before = state.cluster.map((node) => redisCpu(node.port));
  await sleep(IDLE_SECONDS * 1000);
  return state.cluster.map((node, index) => (redisCpu(node.port) - before[index]) / IDLE_SECONDS);
}

/** Deliveries of the configuration's clients: all of them, and those that succeeded. */
async function deliveryCounts(prefix) {
  const [[row]] = await state.db.query(
    `SELECT COUNT(*) AS total, COALESCE(SUM(state = 'succeeded'), 0) AS succeeded FROM deliveries WHERE client_id LIKE ?`,
    [`${prefix}-%`],
  );
  return { total: Number(row.total), succeeded: Number(row.succeeded) };
}

async function runConfiguration(shards, { databaseUrl, nodes, idle }) {
  const queuePrefix = `{ae-bench-shards-${stamp}-${shards}}`;
  const env = serviceEnv({
    databaseUrl,
    queuePrefix,
    adminToken,
    redisUrl: `redis://${nodes[0]}`,
    extra: { ...config.serviceEnv, REDIS_CLUSTER_NODES: nodes.join(','), QUEUE_SHARDS: String(shards) },
  });
  const [apiPort, workerPort] = [await freePort(), await freePort()];
  const api = runService('main', { ...env, PORT: String(apiPort) }, { label: `api-${shards}` });
  const worker = runService(
    'worker',
    { ...env, WORKER_HEALTH_PORT: String(workerPort) },
    { label: `worker-${shards}`, nodeArgs: WORKER_NODE_FLAGS },
  );
  state.services.push(api, worker);
  await Promise.all([api.waitFor('Swagger UI', 60_000), worker.waitFor('Delivery worker running', 60_000)]);
  const queues = (/queue prefix ([^)]*), concurrency/.exec(worker.output())?.[1] ?? '').split(', ');
  const client = new Api(`http://127.0.0.1:${apiPort}`, adminToken);

  const clientPrefix = `s${shards}`;
  const agents = [];
  for (let index = 0; index < CLIENTS; index++) {
    const clientId = `${clientPrefix}-c${index}`;
    const tenant = await setupTenant(client, state.receiver, { clientId, agents: AGENTS_PER_CLIENT });
    agents.push(...tenant.agents.map((agent) => ({ clientId, id: agent.id, status: 'logged_out' })));
  }
  log(`QUEUE_SHARDS=${shards} (queues ${queues.join(', ')}): ${CLIENTS} clients with ${AGENTS_PER_CLIENT} agents each`);

  const hooksBefore = state.receiver.hooks.length;
  const cpuBefore = state.cluster.map((node) => redisCpu(node.port));
  const started = performance.now();
  const changes = [];
  let accepted = 0;
  // Open loop: change n starts at n / RATE seconds, whatever the answers before it took; agents in turn.
  for (let n = 0; n < RATE * SECONDS; n++) {
    const due = started + (n * 1000) / RATE;
    if (due > performance.now()) await sleep(due - performance.now());
    const agent = agents[n % agents.length];
    agent.status = agent.status === 'available' ? 'logged_out' : 'available';
    changes.push(
      client
        .request('PUT', `/client/${agent.clientId}/agent/local/${agent.id}`, { status: agent.status })
        .then((result) => (accepted += result.status === 200 ? 1 : 0)),
    );
  }
  await Promise.all(changes);
  const offeredSeconds = (performance.now() - started) / 1000;
  let counts = await deliveryCounts(clientPrefix);
  for (const until = Date.now() + config.drainSeconds * 1000; counts.succeeded < counts.total && Date.now() < until;) {
    await sleep(200);
    counts = await deliveryCounts(clientPrefix);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = state.cluster.map((node, index) => Math.max(0, redisCpu(node.port) - cpuBefore[index] - idle[index] * seconds));
  client.close();
  await Promise.all([api.stop(8_000), worker.stop(8_000)]);
  state.services = state.services.filter((service) => service !== api && service !== worker);

  const hooks = state.receiver.hooks.slice(hooksBefore);
  const deliveries = counts.succeeded;
  const perDelivery = cpu.map((seconds) => round2((seconds * 1e6) / Math.max(1, deliveries)));
  // A queue has the deliveries of its clients.
  const { shardOf } = await import('../dist/src/delivery-queue/queue-shards.js');
  const [perClient] = await state.db.query(`SELECT client_id, COUNT(*) AS n FROM deliveries WHERE client_id LIKE ? GROUP BY client_id`, [
    `${clientPrefix}-%`,
  ]);
  const byQueue = Array.from({ length: shards }, () => 0);
  for (const row of perClient) byQueue[shardOf(row.client_id, shards)] += Number(row.n);
  // The master of each queue: the one node that holds its keys (the others answer MOVED).
  const masterOf = queues.map((queue) =>
    state.cluster.findIndex((node) => redisCli(node.port, 'EXISTS', `${queue}:webhooks:meta`).trim() === '1'),
  );

  const result = {
    shards,
    queues,
    accepted,
    offeredPerSecond: round2((RATE * SECONDS) / offeredSeconds),
    deliveries,
    deliveriesByQueue: byQueue,
    masterOfQueue: masterOf,
    pending: counts.total - counts.succeeded,
    webhooks: hooks.length,
    distinctWebhooks: new Set(hooks.map((hook) => hook.id)).size,
    seconds: round2(seconds),
    cpuSecondsByNode: cpu.map(round2),
    cpuUsPerDeliveryByNode: perDelivery,
    busiestUsPerDelivery: Math.max(...perDelivery),
    totalUsPerDelivery: round2((cpu.reduce((sum, value) => sum + value, 0) * 1e6) / Math.max(1, deliveries)),
  };
  log(
    `QUEUE_SHARDS=${shards}: ${deliveries} deliveries in ${result.seconds} s; Redis µs per delivery by master ` +
      `${perDelivery.join(' / ')}, busiest ${result.busiestUsPerDelivery}, all ${result.totalUsPerDelivery}`,
  );
  return result;
}

function renderMarkdown(results) {
  const lines = [
    `# Redis CPU per delivery, one queue against three (${results.startedAt.slice(0, 10)})`,
    '',
    `${results.machine.cpus} cores (${results.machine.cpuModel}), Node ${results.machine.node}; a Redis Cluster of 3 masters,`,
    `no replicas, on the same machine; 1 API + 1 worker (WORKER_CONCURRENCY ${config.concurrency}); ${CLIENTS} clients × ` +
      `${AGENTS_PER_CLIENT} agents; ${RATE} status changes/s offered for ${SECONDS} s, one webhook per change.`,
    '',
    '| QUEUE_SHARDS | deliveries (by queue) | master of each queue | exact | Redis CPU s by master | µs per delivery by master | busiest master µs/delivery | all masters µs/delivery |',
    '| ------------ | --------------------- | -------------------- | ----- | --------------------- | ------------------------- | -------------------------- | ----------------------- |',
  ];
  for (const r of results.configurations) {
    const exact = r.pending === 0 && r.webhooks === r.deliveries && r.distinctWebhooks === r.deliveries ? 'yes' : 'NO';
    lines.push(
      `| ${r.shards} | ${r.deliveries} (${r.deliveriesByQueue.join(' / ')}) | ${r.masterOfQueue.join(' / ')} | ${exact} | ${r.cpuSecondsByNode.join(' / ')} | ${r.cpuUsPerDeliveryByNode.join(' / ')} | ` +
        `${r.busiestUsPerDelivery} | ${r.totalUsPerDelivery} |`,
    );
  }
  lines.push(
    '',
    `Idle CPU of each master (subtracted): ${results.idleCpuPerSecond.map((value) => round2(value * 1000)).join(' / ')} ms/s.`,
  );
  return `${lines.join('\n')}\n`;
}

async function main() {
  if (!config.skipBuild) {
    log('building dist/ (tsc -p tsconfig.build.json)');
    build();
  }
  const nodes = await startCluster();
  log(`Redis Cluster of 3 masters on ${nodes.join(', ')}`);
  state.receiver = await new Receiver().start();
  const databaseUrl = databaseUrlFor(config.databaseUrl, databaseName);
  state.databaseCreated = true;
  await ensureServices({ databaseUrl, redisUrl: config.redisUrl, log: (line) => log(line) });
  const migrate = runService('database/migrate', serviceEnv({ databaseUrl, queuePrefix: '{unused}', adminToken }), { label: 'migrate' });
  if ((await migrate.exited).code !== 0) throw new Error(`migrations failed:\n${migrate.output()}`);
  state.db = await mysql.createConnection({ uri: databaseUrl });

  const idle = await idleCpuRates();
  const configurations = [];
  for (const shards of [1, 3]) configurations.push(await runConfiguration(shards, { databaseUrl, nodes, idle }));
  const results = {
    benchmark: 'agent-events queue shards',
    startedAt: new Date(Date.now() - (performance.now() - T0)).toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    settings: { rate: RATE, seconds: SECONDS, clients: CLIENTS, agentsPerClient: AGENTS_PER_CLIENT, concurrency: config.concurrency },
    idleCpuPerSecond: idle,
    configurations,
  };
  const markdown = renderMarkdown(results);
  console.log(`\n${markdown}`);
  const name = process.env.BENCH_RESULT_NAME || `${config.machine}-${results.startedAt.slice(0, 10)}-shards`;
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(join(dir, `${name}.md`), markdown);
  log(`wrote bench/results/${name}.json and .md`);
  const inexact = configurations.filter((r) => r.pending !== 0 || r.webhooks !== r.deliveries || r.distinctWebhooks !== r.deliveries);
  if (inexact.length)
    throw new Error(`not every webhook arrived exactly once with QUEUE_SHARDS=${inexact.map((r) => r.shards).join(', ')}`);
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  console.error(`shards benchmark failed: ${error.stack ?? error}`);
  for (const service of state.services) console.error(`--- ${service.label} output (tail) ---\n${service.output().slice(-3000)}`);
} finally {
  clearTimeout(deadline);
  await cleanup();
}
process.exit(exitCode);
