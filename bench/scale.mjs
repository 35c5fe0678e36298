// `node bench/scale.mjs`: scale-out figures (see bench/README.md). One database, queue prefix and receiver; first
// 1 API + 1 worker, then BENCH_APIS APIs + BENCH_WORKERS workers (default 2 + 2), each configuration driven at the
// shift-change rate and then to saturation, every webhook checked; /metrics of an API and a worker is scraped twice
// during the scale-out saturation. Writes bench/results/<machine>-<date>-scale.{md,json} and the metrics samples.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { config } from './lib/config.mjs';
import { Receiver } from './lib/receiver.mjs';
import { Api, RoundRobinApi } from './lib/http.mjs';
import { setupTenant } from './lib/setup.mjs';
import { StatusDriver } from './lib/drive.mjs';
import {
  cleanUpOnExit,
  ROOT,
  build,
  freePort,
  serverVersion,
  dropDatabase,
  databaseUrlFor,
  deletePrefix,
  redisClient,
  runService,
  connectedServerPids,
  cpuSnapshot,
  cpuSince,
  memory,
  round2,
  serviceEnv,
} from './lib/infra.mjs';
import { ensureServices } from '../scripts/services.mjs';
import { WORKER_NODE_FLAGS } from '../scripts/node-flags.mjs';

const T0 = performance.now();
const log = (...args) => console.log(`[scale ${((performance.now() - T0) / 1000).toFixed(1).padStart(6)} s]`, ...args);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14) + randomBytes(2).toString('hex');
const databaseName = `ae_bench_${stamp}`;
const queuePrefix = `{ae-bench-${stamp}}`;
const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`;
const CLIENT = 'bench';
/** The series of a /metrics sample shown in the report (the whole samples are saved beside it). */
const SHOWN_SERIES = [
  'agent_events_status_changes_total',
  'agent_events_delivery_attempts_total',
  'agent_events_delivery_attempt_duration_seconds_count',
  'agent_events_delivery_attempt_duration_seconds_sum',
  'agent_events_change_to_receipt_seconds_bucket{le="0.05"}',
  'agent_events_change_to_receipt_seconds_bucket{le="0.25"}',
  'agent_events_change_to_receipt_seconds_bucket{le="1"}',
  'agent_events_change_to_receipt_seconds_count',
  'agent_events_change_to_receipt_seconds_sum',
  'agent_events_queue_jobs',
  'agent_events_breaker_state',
  'agent_events_reconciler_requeued_total',
  'agent_events_http_request_duration_seconds_count{method="PUT"',
  'agent_events_http_request_duration_seconds_sum{method="PUT"',
  'agent_events_process_cpu_seconds_total',
  'agent_events_nodejs_eventloop_lag_p99_seconds',
];
/** Series that are a level, not a count: no rate between the samples. */
const GAUGES = ['agent_events_queue_jobs', 'agent_events_breaker_state', 'agent_events_nodejs_eventloop_lag'];

const state = { services: [], db: null, redis: null, receiver: null, databaseCreated: false, cleaned: false };

async function cleanup() {
  if (state.cleaned) return;
  state.cleaned = true;
  await Promise.all(state.services.map((service) => service.stop(8_000).catch(() => undefined)));
  await state.db?.end().catch(() => undefined);
  if (!config.keep) {
    if (state.databaseCreated)
      await dropDatabase(config.databaseUrl, databaseName).catch((error) => log(`could not drop ${databaseName}: ${error.message}`));
    if (state.redis) log(`deleted ${await deletePrefix(state.redis, queuePrefix).catch(() => 0)} Redis keys of ${queuePrefix}`);
  } else log(`kept database ${databaseName} and Redis prefix ${queuePrefix} (BENCH_KEEP=1)`);
  await state.redis?.quit().catch(() => undefined);
  await state.receiver?.stop().catch(() => undefined);
}

const deadline = cleanUpOnExit(cleanup, config.maxSeconds, log);

/** N APIs (each on its own port) and M workers (each with its own health port) on one database and prefix. */
async function startProcesses(env, apis, workers) {
  const started = { apis: [], workers: [] };
  for (let i = 1; i <= apis; i++) {
    const port = await freePort();
    const service = runService('main', { ...env, PORT: String(port) }, { label: `api${i}` });
    started.apis.push({ service, port });
  }
  // The per-host limit holds across the workers: the bench's one receiver host gets every worker's concurrency.
  const hostConcurrency = { WEBHOOK_HOST_CONCURRENCY: String(config.concurrency * workers), ...config.serviceEnv };
  for (let i = 1; i <= workers; i++) {
    const port = await freePort();
    const service = runService(
      'worker',
      { ...env, ...hostConcurrency, WORKER_HEALTH_PORT: String(port) },
      { label: `worker${i}`, nodeArgs: WORKER_NODE_FLAGS },
    );
    started.workers.push({ service, port });
  }
  const all = [...started.apis, ...started.workers].map(({ service }) => service);
  state.services.push(...all);
  await Promise.all([
    ...started.apis.map(({ service }) => service.waitFor('Swagger UI', 60_000)),
    ...started.workers.map(({ service }) => service.waitFor('Delivery worker running', 60_000)),
  ]);
  return { ...started, all };
}

async function stopProcesses(processes) {
  await Promise.all(processes.all.map((service) => service.stop(8_000)));
  state.services = state.services.filter((service) => !processes.all.includes(service));
  for (const service of processes.all) {
    const code = service.child.exitCode;
    if (code !== 0 && code !== null) log(`${service.label} exited with ${code}:\n${service.output().slice(-2000)}`);
  }
}

/** CPU ms per unit of each process, summed by kind (api, worker), and the cores they kept busy. */
function cpuPer(cpu, units) {
  const byKind = {};
  for (const [name, seconds] of Object.entries(cpu.cpuSeconds)) {
    const kind = name.replace(/\d+$/, '');
    byKind[kind] = (byKind[kind] ?? 0) + seconds;
  }
  const msPer = Object.fromEntries(
    Object.entries(byKind).map(([kind, seconds]) => [kind, units ? round2((seconds * 1000) / units) : null]),
  );
  const coresBusy = Object.fromEntries(Object.entries(byKind).map(([kind, seconds]) => [kind, round2(seconds / cpu.wallSeconds)]));
  const service = ['api', 'worker', 'mysql', 'redis'].reduce((sum, kind) => sum + (byKind[kind] ?? 0), 0);
  return {
    msPer,
    coresBusy,
    serviceMsPer: units ? round2((service * 1000) / units) : null,
    perProcess: cpu.cpuSeconds,
    wallSeconds: cpu.wallSeconds,
  };
}

async function scrape(port, path = '/metrics') {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: { authorization: `Basic ${Buffer.from(`admin:${adminToken}`).toString('base64')}` },
  });
  if (response.status !== 200) throw new Error(`GET ${path} on port ${port} answered ${response.status}`);
  return { at: new Date().toISOString(), t: performance.now(), text: await response.text() };
}

/** The shown series of a sample: line name → value. */
function shown(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !SHOWN_SERIES.some((series) => line.startsWith(series))) continue;
    const cut = line.lastIndexOf(' ');
    out[line.slice(0, cut)] = Number(line.slice(cut + 1));
  }
  return out;
}

async function runConfiguration(name, apis, workers, ctx) {
  const { env, driver, scrapeMetrics } = ctx;
  log(`${name}: starting ${apis} API and ${workers} worker processes`);
  const processes = await startProcesses(env, apis, workers);
  const pids = await connectedServerPids(state.db, state.redis);
  for (const [i, { service }] of processes.apis.entries()) pids[`api${i + 1}`] = service.pid;
  for (const [i, { service }] of processes.workers.entries()) pids[`worker${i + 1}`] = service.pid;
  driver.api = new RoundRobinApi(processes.apis.map(({ port }) => new Api(`http://127.0.0.1:${port}`, adminToken)));
  const out = { name, apis, workers, phases: {} };

  const warm = `${name}:warmup`;
  await driver.closedLoop(warm, config.saturationInflight, config.warmupSeconds);
  await driver.drain(warm, config.drainSeconds * 1000);
  out.phases.warmup = driver.verify(warm);

  // The shift change: changes offered at a fixed rate whatever the answers take (open loop).
  const shift = `${name}:shift`;
  const shiftCpu = cpuSnapshot(pids);
  const shiftRun = await driver.openLoop(shift, config.shiftRate, config.shiftSeconds);
  await driver.drain(shift, config.drainSeconds * 1000);
  const shiftCpuEnd = cpuSnapshot(pids); // after the drain: every delivery of the phase is paid for
  const shiftCheck = driver.verify(shift);
  out.phases.shift = {
    ...shiftCheck,
    offeredRate: config.shiftRate,
    ...driver.windowRates(shift, shiftRun.started, shiftRun.ended),
    maxScheduleLagMs: shiftRun.maxScheduleLagMs,
    cpu: cpuPer(cpuSince(shiftCpu, shiftCpuEnd), shiftRun.sent),
  };
  log(
    `${name}: ${config.shiftRate} changes/s offered: ${out.phases.shift.acceptedPerSecond}/s accepted, ${out.phases.shift.deliveriesPerSecond}/s delivered, latency ${JSON.stringify(shiftCheck.latency)}`,
  );

  // Saturation: N PUTs always in flight, spread over the APIs; the sustained rate is read in the steady window.
  const sat = `${name}:saturation`;
  const satCpu = cpuSnapshot(pids);
  const satRunning = driver.closedLoop(sat, config.saturationInflight, config.saturationSeconds);
  let samples;
  if (scrapeMetrics) {
    const api = processes.apis[0].port;
    const worker = processes.workers[0].port;
    await sleep(config.steadySkipSeconds * 1000);
    const first = await Promise.all([scrape(api), scrape(worker)]);
    await sleep(config.scrapeGapSeconds * 1000);
    const second = await Promise.all([scrape(api), scrape(worker)]);
    samples = { api: [first[0], second[0]], worker: [first[1], second[1]] };
  }
  const satRun = await satRunning;
  const drainedAt = await driver.drain(sat, config.drainSeconds * 1000);
  const satCpuEnd = cpuSnapshot(pids);
  const steady = driver.windowRates(sat, satRun.started + config.steadySkipSeconds * 1000, satRun.ended);
  const satCheck = driver.verify(sat);
  out.phases.saturation = {
    ...satCheck,
    inflight: config.saturationInflight,
    deliveriesPerSecond: steady.deliveriesPerSecond,
    acceptedPerSecond: steady.acceptedPerSecond,
    steadyWindowSeconds: steady.seconds,
    drainSecondsAfterDrive: round2((drainedAt - satRun.ended) / 1000),
    cpu: cpuPer(cpuSince(satCpu, satCpuEnd), satRun.sent),
  };
  out.rss = Object.fromEntries(processes.all.map((service) => [service.label, memory(service.pid).peakMb]));
  log(
    `${name}: saturation ${steady.deliveriesPerSecond} deliveries/s (accepted ${steady.acceptedPerSecond}/s), ${satCheck.received}/${satCheck.expected} received, latency ${JSON.stringify(satCheck.latency)}`,
  );
  driver.api.close();
  await stopProcesses(processes);
  return { result: out, samples };
}

function renderMarkdown(results, sampleFiles) {
  const fmt = (value, digits = 1) => (value == null ? '–' : Number(value).toLocaleString('en-US', { maximumFractionDigits: digits }));
  const ms = (value) => (value == null ? '–' : `${fmt(value)} ms`);
  const lat = (l) => `p50 ${ms(l.p50)} · p99 ${ms(l.p99)} · max ${ms(l.max)}`;
  const check = (p) =>
    `${p.received}/${p.expected}, dup ${p.duplicates}, extra ${p.extraDeliveries}, wrong ${p.wrongPayload} ${p.ok ? 'ok' : 'FAILED'}`;
  const cpu = (c) =>
    Object.entries(c.msPer)
      .map(([kind, value]) => `${kind} ${fmt(value, 2)}`)
      .join(', ');
  const busy = (c) =>
    Object.entries(c.coresBusy)
      .map(([kind, value]) => `${kind} ${fmt(value, 2)}`)
      .join(', ');
  const rows = [];
  for (const c of results.configurations) {
    const { shift, saturation } = c.phases;
    rows.push(
      `| ${c.apis} API + ${c.workers} worker | saturation (${saturation.inflight} PUTs in flight) | **${fmt(saturation.deliveriesPerSecond)}** delivered/s, ${fmt(saturation.acceptedPerSecond)} accepted/s | ${lat(saturation.latency)} | ${check(saturation)} | ${cpu(saturation.cpu)} | ${busy(saturation.cpu)} |`,
      `| ${c.apis} API + ${c.workers} worker | shift change, ${fmt(shift.offeredRate, 0)} changes/s offered | ${fmt(shift.acceptedPerSecond)} accepted/s, ${fmt(shift.deliveriesPerSecond)} delivered/s | ${lat(shift.latency)} | ${check(shift)} | ${cpu(shift.cpu)} | ${busy(shift.cpu)} |`,
    );
  }
  const m = results.machine;
  const lines = [
    `# agent-events scale-out: ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${m.cpus} cores (${m.cpuModel}), Node ${m.node}, MariaDB ${m.mariadb}, Redis ${m.redis}, all on the same machine with the load generator and the receiver; ${results.quick ? 'quick run (BENCH_QUICK=1)' : 'full run'}, ${results.runSeconds} s. Worker concurrency ${results.settings.concurrency}, WEBHOOK_HOST_CONCURRENCY ${results.settings.concurrency}, LOG_LEVEL warn; one webhook per status change.`,
    '',
    '| processes | load | throughput | change accepted → webhook received | every webhook checked (received/expected) | CPU ms per change, by process kind | cores busy |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'CPU is counted from the start of a phase until its last webhook arrived. `bench` is the load generator and receiver (one process); `mysql` and `redis` are the servers the bench uses, counted whole (other users of this machine show up there). The machine was shared with other test runs: CPU per change is higher under contention than on a quiet machine.',
    '',
  ];
  if (results.metrics) {
    lines.push(`## /metrics while the ${results.metrics.configuration} configuration ran at saturation`, '');
    lines.push(
      `Two samples ${fmt(results.metrics.gapSeconds, 1)} s apart, of the first API (\`GET /metrics\`) and the first worker (\`WORKER_HEALTH_PORT\`); whole samples: ${sampleFiles.map((file) => `\`${file}\``).join(', ')}.`,
      '',
    );
    for (const kind of ['api', 'worker']) {
      const [first, second] = results.metrics[kind];
      lines.push(`| ${kind} series | first | second | per second |`, '| --- | --- | --- | --- |');
      for (const [series, value] of Object.entries(second)) {
        const before = first[series];
        const gauge = GAUGES.some((name) => series.startsWith(name));
        if (!gauge && !value && !before) continue; // e.g. the API's delivery figures: the worker moves those
        const perSecond = before == null || gauge ? '–' : fmt((value - before) / results.metrics.gapSeconds, 1);
        lines.push(`| \`${series.replace(/\|/g, '\\|')}\` | ${fmt(before, 3)} | ${fmt(value, 3)} | ${perSecond} |`);
      }
      lines.push('');
    }
  }
  return `${lines.join('\n')}\n`;
}

async function main() {
  log(`agent-events scale-out benchmark${config.quick ? ' (quick)' : ''}: database ${databaseName}, queue prefix ${queuePrefix}`);
  if (!config.skipBuild) {
    log('building dist/ (tsc -p tsconfig.build.json)');
    build();
  }
  state.receiver = await new Receiver().start();
  const databaseUrl = databaseUrlFor(config.databaseUrl, databaseName);
  state.databaseCreated = true;
  await ensureServices({ databaseUrl, redisUrl: config.redisUrl, log: (line) => log(line) });
  const mysqlVersion = await serverVersion(config.databaseUrl);
  state.redis = redisClient(config.redisUrl);
  const redisVersion = /redis_version:(\S+)/.exec(await state.redis.info('server'))?.[1];
  const env = serviceEnv({ databaseUrl, queuePrefix, adminToken });
  const migrate = runService('database/migrate', env, { label: 'migrate' });
  if ((await migrate.exited).code !== 0) throw new Error(`migrations failed:\n${migrate.output()}`);
  state.db = await mysql.createConnection({ uri: databaseUrl, timezone: 'Z' });

  const setupProcesses = await startProcesses(env, 1, 0);
  const setupApi = new Api(`http://127.0.0.1:${setupProcesses.apis[0].port}`, adminToken);
  const { agents } = await setupTenant(setupApi, state.receiver, { clientId: CLIENT, agents: config.agents });
  setupApi.close();
  await stopProcesses(setupProcesses);
  log(`setup: ${config.agents} agents with an agent-login and an agent-logout event each`);
  const driver = new StatusDriver({ api: null, clientId: CLIENT, agents, receiver: state.receiver, db: state.db });

  const configurations = [];
  const one = await runConfiguration('1+1', 1, 1, { env, driver, scrapeMetrics: false });
  configurations.push(one.result);
  const scaled = await runConfiguration(`${config.apis}+${config.workers}`, config.apis, config.workers, {
    env,
    driver,
    scrapeMetrics: true,
  });
  configurations.push(scaled.result);

  const date = new Date().toISOString().slice(0, 10);
  const name = process.env.BENCH_RESULT_NAME || `${config.machine}-${date}-scale${config.quick ? '-quick' : ''}`;
  const dir = join(ROOT, config.quick ? 'bench/results/tmp' : 'bench/results');
  mkdirSync(dir, { recursive: true });
  const sampleFiles = [];
  for (const kind of ['api', 'worker']) {
    for (const [i, sample] of scaled.samples[kind].entries()) {
      const file = `${name}-metrics-${kind}-${i + 1}.txt`;
      writeFileSync(join(dir, file), `# ${kind} /metrics at ${sample.at}\n${sample.text}`);
      sampleFiles.push(file);
    }
  }
  const results = {
    benchmark: 'agent-events scale-out',
    quick: config.quick,
    startedAt: new Date(Date.now() - (performance.now() - T0)).toISOString(),
    runSeconds: Math.round((performance.now() - T0) / 1000),
    machine: {
      hostname: hostname(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      node: process.version,
      mariadb: mysqlVersion,
      redis: redisVersion,
    },
    settings: {
      concurrency: config.concurrency,
      agents: config.agents,
      inflight: config.saturationInflight,
      saturationSeconds: config.saturationSeconds,
      shiftRate: config.shiftRate,
      shiftSeconds: config.shiftSeconds,
      serviceEnv: Object.keys(config.serviceEnv),
    },
    configurations,
    metrics: {
      configuration: scaled.result.name,
      gapSeconds: round2((scaled.samples.api[1].t - scaled.samples.api[0].t) / 1000),
      api: scaled.samples.api.map((sample) => shown(sample.text)),
      worker: scaled.samples.worker.map((sample) => shown(sample.text)),
    },
    checks: {
      unexpectedWebhooks: driver.unexpected(),
      putErrors: driver.putErrors.slice(0, 20),
      otherRequestsAtReceiver: state.receiver.other.length,
    },
  };
  const markdown = renderMarkdown(results, sampleFiles);
  console.log(`\n${markdown}`);
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(join(dir, `${name}.md`), markdown);
  log(`wrote ${join(dir, name).slice(ROOT.length)}.json and .md, and ${sampleFiles.length} /metrics samples`);
  const failed = configurations.flatMap((c) =>
    Object.entries(c.phases)
      .filter(([, phase]) => !phase.ok)
      .map(([phase]) => `${c.name} ${phase}`),
  );
  if (failed.length || results.checks.unexpectedWebhooks)
    throw new Error(`checks failed: ${failed.join(', ')}; unexpected webhooks ${results.checks.unexpectedWebhooks}`);
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  console.error(`scale benchmark failed: ${error.stack ?? error}`);
  for (const service of state.services) console.error(`--- ${service.label} output (tail) ---\n${service.output().slice(-3000)}`);
} finally {
  clearTimeout(deadline);
  await cleanup();
}
process.exit(exitCode);
