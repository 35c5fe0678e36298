// `node bench/fixed-load.mjs`: the fixed load of `npm run bench` alone (200 status changes/s for 30 s, open loop),
// in several rounds against one API and one worker, with the V8 garbage collections of both counted (`--trace-gc`).
// The p99 change → receipt at that load is the bench's most fragile target; this looks at it, and at what moves it,
// in ~2.5 minutes. A database and queue prefix of its own, dropped and deleted at the end (see bench/README.md).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { config, TARGETS } from './lib/config.mjs';
import { Receiver } from './lib/receiver.mjs';
import { Api } from './lib/http.mjs';
import { setupTenant } from './lib/setup.mjs';
import { StatusDriver } from './lib/drive.mjs';
import { latencyStages, STAGES, stagesLine } from './lib/stages.mjs';
import { counts, seedHistory } from './lib/history.mjs';
import { clearPerfFiles, PERF_HZ, PERF_NODE_ARGS, perfDirectory, perfMissing, recordPerf, samplesByPackage } from './lib/perf.mjs';
import {
  ROOT,
  build,
  cleanUpOnExit,
  cpuSince,
  counterDelta,
  cpuSnapshot,
  databaseUrlFor,
  deletePrefix,
  dropDatabase,
  freePort,
  memory,
  profileArgs,
  redisClient,
  round2,
  runService,
  serverPids,
  serviceEnv,
  startNaiveProcesses,
} from './lib/infra.mjs';
import { ensureServices } from '../scripts/services.mjs';
import { API_NODE_FLAGS, WORKER_NODE_FLAGS } from '../scripts/node-flags.mjs';

const rounds = Number(process.env.BENCH_FIXED_ROUNDS || 3);
/**
 * BENCH_FIXED_NAIVE=1: the naive durable reference (bench/naive/) beside the service, on the same database, agents and
 * receiver (a queue prefix of its own), each round once on each side, in the order service, naive, naive, service, …
 */
const withNaive = process.env.BENCH_FIXED_NAIVE === '1';
/** BENCH_PERF=1: the working directory of the processes recorded, where their jit dumps and the recordings go. */
const PERF_DIR = join(ROOT, 'bench/results/tmp/perf');
/** Existing delivery rows and agent events before the rounds (as a level of `npm run bench`). */
const historyRows = Number(process.env.BENCH_FIXED_HISTORY || 0);
/** What InnoDB did meanwhile (server-wide): pages read from disk, flushed to free a page, waits for a free page, pages flushed, fsyncs. */
const INNODB_COUNTERS = [
  'Innodb_buffer_pool_reads',
  'Innodb_buffer_pool_pages_lru_flushed',
  'Innodb_buffer_pool_wait_free',
  'Innodb_buffer_pool_pages_flushed',
  'Innodb_data_fsyncs',
];
const T0 = performance.now();
const log = (...args) => console.log(`[fixed-load ${((performance.now() - T0) / 1000).toFixed(1).padStart(6)} s]`, ...args);
const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14) + randomBytes(2).toString('hex');
const databaseName = `ae_bench_${stamp}_fixed`;
const queuePrefix = `{ae-bench-${stamp}-fixed}`;
const naivePrefix = `{ae-bench-${stamp}-fixed-naive}`;
const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`;
const state = { services: [], receiver: null, redis: null, db: null, cleaned: false };

async function cleanup() {
  if (state.cleaned) return;
  state.cleaned = true;
  await Promise.all(state.services.map((service) => service.stop(config.profile ? 20_000 : 8_000).catch(() => undefined)));
  await state.db?.end().catch(() => undefined);
  await dropDatabase(config.databaseUrl, databaseName).catch((error) => log(`could not drop ${databaseName}: ${error.message}`));
  if (state.redis) {
    for (const prefix of [queuePrefix, naivePrefix])
      await deletePrefix(state.redis, prefix).catch((error) => log(`could not clear ${prefix}: ${error.message}`));
    await state.redis.quit().catch(() => undefined);
  }
  await state.receiver?.stop().catch(() => undefined);
  if (config.perf) rmSync(PERF_DIR, { recursive: true, force: true });
}

/**
 * Counts the `--trace-gc` lines of a process as they come: scavenges, and full (mark-compact) collections, with the
 * main thread's pause of each (the first figure after the sizes: "…MB, 1.23 / 0.00 ms") summed and the longest kept.
 */
function gcCounter(service) {
  const counts = { scavenges: 0, full: 0, pauseMs: 0, longestMs: 0 };
  let rest = '';
  service.child.stdout.on('data', (chunk) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop();
    for (const line of lines) {
      const scavenge = line.includes(': Scavenge ');
      const full = line.includes(': Mark-Compact ');
      if (!scavenge && !full) continue;
      if (scavenge) counts.scavenges++;
      else counts.full++;
      const pause = Number(/MB, ([\d.]+) \//.exec(line)?.[1] ?? 0);
      counts.pauseMs += pause;
      counts.longestMs = Math.max(counts.longestMs, pause);
    }
  });
  return {
    counts: () => ({ ...counts }),
    /** Starts a new window for the longest pause. */
    resetLongest: () => (counts.longestMs = 0),
  };
}

/**
 * The late changes grouped by when they were accepted: a change within 500 ms of the previous late one is in its burst.
 * A few large bursts is a stall (a pause of a process, of the disk or of the machine); many of one is steady queueing.
 */
function bursts(acceptedTimes) {
  const sorted = [...acceptedTimes].sort((a, b) => a - b);
  const sizes = [];
  sorted.forEach((time, index) => {
    if (index === 0 || time - sorted[index - 1] > 500) sizes.push(0);
    sizes[sizes.length - 1]++;
  });
  return { count: sizes.length, largest: Math.max(0, ...sizes) };
}

async function innodbCounters(connection) {
  const [rows] = await connection.query('SHOW GLOBAL STATUS WHERE Variable_name IN (?)', [INNODB_COUNTERS]);
  return Object.fromEntries(rows.map((row) => [row.Variable_name.replace(/^Innodb_(buffer_pool_)?/, ''), Number(row.Value)]));
}

/**
 * Each round's service figure ÷ the naive reference's (the two sides of one round ran one after the other), and
 * the median of those ratios: p50, p99 and PUT p99 change → receipt, CPU per delivery of every process but the bench.
 */
function naiveComparison(results) {
  const cpu = (r) => Object.entries(r.cpuMsPerDelivery).reduce((sum, [name, ms]) => (name === 'bench' ? sum : sum + ms), 0);
  const figures = { p50: (r) => r.latency.p50, p99: (r) => r.latency.p99, 'PUT p99': (r) => r.putLatency.p99, CPU: cpu };
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return round2(sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2);
  };
  const pairs = [...new Set(results.map((r) => r.round))].map((round) => results.filter((r) => r.round === round));
  const ratios = Object.fromEntries(
    Object.entries(figures).map(([name, read]) => [
      name,
      pairs.map((pair) => {
        const [ours, theirs] = ['service', 'naive'].map((side) => read(pair.find((r) => r.side === side)));
        return round2(ours / theirs);
      }),
    ]),
  );
  return [
    'Service ÷ naive reference, round by round, and the median:',
    '',
    '| figure | rounds | median |',
    '|---|---|---|',
    ...Object.entries(ratios).map(([name, values]) => `| ${name} | ${values.join(' · ')} | ${median(values)} |`),
    '',
  ];
}

/** Of a round's perf recording: for the API and the worker, their CPU ms per change sent, in all and by package. */
function perfMsPerChange(file, pids, sent) {
  const byPid = samplesByPackage(file);
  const ms = (samples) => round2((samples * 1000) / PERF_HZ / sent);
  return Object.fromEntries(
    Object.entries(pids).map(([processName, pid]) => {
      const of = byPid.get(pid) ?? { samples: 0, packages: new Map() };
      return [
        processName,
        { all: ms(of.samples), packages: Object.fromEntries([...of.packages].map(([name, samples]) => [name, ms(samples)])) },
      ];
    }),
  );
}

/**
 * BENCH_PERF=1: the API's and the worker's CPU by package, ms per change, the mean of each side's rounds, the packages
 * where the two sides differ most first (the whole difference in the first row).
 */
function perfTable(results) {
  const sides = [...new Set(results.map((result) => result.side))];
  const columns = ['api', 'worker'].flatMap((processName) => sides.map((side) => ({ processName, side })));
  const mean = ({ processName, side }, name) => {
    const rounds = results.filter((result) => result.side === side && result.perfMsPerChange);
    const values = rounds.map((result) => {
      const of = result.perfMsPerChange[processName];
      return name === undefined ? of.all : (of.packages[name] ?? 0);
    });
    return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
  };
  const names = [
    ...new Set(results.flatMap((result) => Object.values(result.perfMsPerChange ?? {}).flatMap((of) => Object.keys(of.packages)))),
  ];
  const spread = (name) => {
    const values = columns.map((column) => mean(column, name));
    return sides.length < 2 ? values.reduce((a, b) => a + b, 0) : Math.abs(values[0] - values[1]) + Math.abs(values[2] - values[3]);
  };
  const row = (label, name) => `| ${label} | ${columns.map((column) => round2(mean(column, name))).join(' | ')} |`;
  return [
    `CPU by package, from Linux perf (\`-e cpu-clock\`, ${PERF_HZ} Hz, each sample at its nearest JavaScript frame; \`native\`: none on its stack), ms per change, mean of the rounds:`,
    '',
    `| package | ${columns.map(({ processName, side }) => `${side} ${processName}`).join(' | ')} |`,
    `|---|${columns.map(() => '---').join('|')}|`,
    row('all', undefined),
    ...names
      .sort((a, b) => spread(b) - spread(a))
      .slice(0, 30)
      .map((name) => row(name, name)),
    '',
  ];
}

/** The naive reference's API and worker (bench/naive/), warmed up as the service was; `gc` counts their collections. */
async function startNaive({ env, profile, cwd, driver }) {
  const { api, worker, url, ready } = await startNaiveProcesses(env, {
    cwd,
    queuePrefix: naivePrefix,
    adminToken,
    nodeArgs: { api: ['--trace-gc', ...profile('naive-api')], worker: ['--trace-gc', ...profile('naive-worker')] },
  });
  state.services.push(api, worker);
  const gc = { api: gcCounter(api), worker: gcCounter(worker) };
  await ready();
  const client = new Api(url, adminToken);
  driver.api = client;
  log(`naive reference; warm-up: ${config.saturationInflight} changes in flight for ${config.warmupSeconds} s`);
  await driver.closedLoop('warmup-naive', config.saturationInflight, config.warmupSeconds);
  await driver.drain('warmup-naive', config.drainSeconds * 1000);
  const warm = driver.verify('warmup-naive');
  if (!warm.ok) throw new Error(`naive warm-up deliveries not exact: ${JSON.stringify(warm)}`);
  return { side: 'naive', api, worker, client, gc, queuePrefix: naivePrefix, pids: { api: api.pid, worker: worker.pid, ...serverPids() } };
}

async function main() {
  const deadline = cleanUpOnExit(cleanup, config.maxSeconds, log);
  if (!config.skipBuild) build();
  const noPerf = config.perf ? perfMissing() : undefined;
  if (noPerf) throw new Error(noPerf);
  state.receiver = await new Receiver().start();
  const databaseUrl = databaseUrlFor(config.databaseUrl, databaseName);
  // The project's own check: MariaDB and Redis answer (started or installed where it can); the database is made.
  await ensureServices({ databaseUrl, redisUrl: config.redisUrl, log });
  state.redis = redisClient(config.redisUrl);
  const env = {
    ...serviceEnv({ databaseUrl, queuePrefix, adminToken }),
    PORT: String(await freePort()),
    WORKER_HEALTH_PORT: String(await freePort()),
  };
  const migrate = runService('database/migrate', env, { label: 'migrate' });
  if ((await migrate.exited).code !== 0) throw new Error(`migrations failed:\n${migrate.output()}`);
  state.db = await mysql.createConnection({ uri: databaseUrl, timezone: 'Z' });

  // BENCH_PROFILE=1: --cpu-prof of both, under bench/results/tmp/profiles (bench/profile-top.mjs reads them).
  // BENCH_PERF=1: V8 dumps its code's names for perf into the processes' working directory (bench/lib/perf.mjs).
  const profile = (name) => [
    ...(config.profile ? profileArgs(join(ROOT, 'bench/results/tmp/profiles'), `fixed-${name}`) : []),
    ...(config.perf ? PERF_NODE_ARGS : []),
  ];
  const cwd = config.perf ? perfDirectory(PERF_DIR) : ROOT;
  const api = runService('main', env, { label: 'api', nodeArgs: [...API_NODE_FLAGS, '--trace-gc', ...profile('api')], cwd });
  const worker = runService('worker', env, { label: 'worker', nodeArgs: [...WORKER_NODE_FLAGS, '--trace-gc', ...profile('worker')], cwd });
  state.services.push(api, worker);
  const gc = { api: gcCounter(api), worker: gcCounter(worker) };
  await Promise.all([api.waitFor('Swagger UI', 60_000), worker.waitFor('Delivery worker running', 60_000)]);
  const client = new Api(`http://127.0.0.1:${env.PORT}`, adminToken);
  const { agents } = await setupTenant(client, state.receiver, { clientId: 'bench', agents: config.agents });
  if (historyRows) {
    const history = await seedHistory(state.db, { clientId: 'bench', target: historyRows, tag: historyRows });
    log(`history ${JSON.stringify(history.inserted)} in ${history.seconds} s; rows now ${JSON.stringify(await counts(state.db))}`);
  }
  const driver = new StatusDriver({ api: client, clientId: 'bench', agents, receiver: state.receiver, db: state.db });
  log(`${config.agents} agents; warm-up: ${config.saturationInflight} changes in flight for ${config.warmupSeconds} s`);
  await driver.closedLoop('warmup', config.saturationInflight, config.warmupSeconds);
  await driver.drain('warmup', config.drainSeconds * 1000);
  const warm = driver.verify('warmup');
  if (!warm.ok) throw new Error(`warm-up deliveries not exact: ${JSON.stringify(warm)}`);

  const sides = [{ side: 'service', api, worker, client, gc, queuePrefix, pids: { api: api.pid, worker: worker.pid, ...serverPids() } }];
  if (withNaive) sides.push(await startNaive({ env, profile, cwd, driver }));
  const results = [];
  const turns = [];
  for (let round = 1; round <= rounds; round++) {
    const ofRound = round % 2 === 1 ? sides : [...sides].reverse();
    for (const side of ofRound) turns.push({ round, ...side });
  }
  for (const { round, side, api, worker, client, gc, queuePrefix, pids } of turns) {
    const name = `fixed${round}${side === 'service' ? '' : `-${side}`}`;
    driver.api = client;
    const gcBefore = { api: gc.api.counts(), worker: gc.worker.counts() };
    gc.api.resetLongest();
    gc.worker.resetLongest();
    const cpuBefore = cpuSnapshot(pids);
    const innodbBefore = await innodbCounters(state.db);
    const recording = config.perf ? recordPerf([api.pid, worker.pid], PERF_DIR, `${name}.data`) : undefined;
    const run = await driver.openLoop(name, config.fixedRate, config.fixedSeconds);
    const perfFile = await recording?.stop();
    await driver.drain(name, config.drainSeconds * 1000);
    const cpu = cpuSince(cpuBefore, cpuSnapshot(pids));
    const innodb = counterDelta(innodbBefore, await innodbCounters(state.db));
    const check = driver.verify(name);
    const late = driver.phase(name).keys.filter((key) => {
      const first = driver.receipts.get(key)?.[0];
      return first && first.t - driver.expected.get(key).accepted > TARGETS.fixedP99Ms;
    });
    const over = late.length;
    const lateBursts = bursts(late.map((key) => driver.expected.get(key).accepted));
    const collections = Object.fromEntries(
      Object.entries(gc).map(([processName, counter]) => {
        const now = counter.counts();
        const before = gcBefore[processName];
        return [
          processName,
          {
            scavenges: now.scavenges - before.scavenges,
            full: now.full - before.full,
            pauseMs: round2(now.pauseMs - before.pauseMs),
            longestPauseMs: round2(now.longestMs),
          },
        ];
      }),
    );
    const result = {
      round,
      side,
      offeredRate: config.fixedRate,
      seconds: config.fixedSeconds,
      achievedRate: round2(run.sent / ((run.ended - run.started) / 1000)),
      ...check,
      overTarget: over,
      lateBursts,
      innodb,
      // Peak RSS so far (VmHWM; the warm-up at saturation included).
      peakRssMb: { api: memory(api.pid).peakMb, worker: memory(worker.pid).peakMb },
      cpuMsPerDelivery: Object.fromEntries(
        Object.entries(cpu.cpuSeconds).map(([key, value]) => [key, round2((value * 1000) / check.received)]),
      ),
      collections,
      // BENCH_PERF=1: the API's and the worker's CPU during the open loop, ms per change sent, by package.
      ...(perfFile ? { perfMsPerChange: perfMsPerChange(perfFile, { api: api.pid, worker: worker.pid }, run.sent) } : {}),
      // Where the time went, stage by stage (bench/lib/stages.mjs).
      stages: await latencyStages({ driver, phaseName: name, redis: state.redis, db: state.db, queuePrefix }),
    };
    results.push(result);
    if (perfFile) clearPerfFiles(PERF_DIR);
    log(
      `round ${round}${side === 'service' ? '' : ` (${side})`}: ${check.received}/${check.expected} exact ${check.ok}; p50 ${check.latency.p50} · p95 ${check.latency.p95} · p99 ${check.latency.p99} · max ${check.latency.max} ms; ` +
        `${over} over ${TARGETS.fixedP99Ms} ms in ${lateBursts.count} bursts (largest ${lateBursts.largest}); PUT p99 ${check.putLatency.p99} ms; ` +
        `full GCs api ${collections.api.full}, worker ${collections.worker.full}; longest GC pause api ${collections.api.longestPauseMs}, worker ${collections.worker.longestPauseMs} ms; ` +
        `peak RSS api ${result.peakRssMb.api}, worker ${result.peakRssMb.worker} MB; InnoDB ${JSON.stringify(innodb)}`,
    );
    log(`round ${round}${side === 'service' ? '' : ` (${side})`}, where the time went: ${stagesLine(result.stages)}`);
  }
  for (const side of sides) side.client.close();

  const p99s = results.filter((result) => result.side === 'service').map((result) => result.latency.p99);
  const lines = [
    `# Fixed load: ${config.fixedRate} status changes/s, ${rounds} rounds of ${config.fixedSeconds} s (node bench/fixed-load.mjs)`,
    '',
    `${new Date().toISOString()}, ${config.machine}; one API and one worker (production flags, \`--trace-gc\`), ${config.agents} agents, warmed up first; ${historyRows ? `history brought to ${historyRows} delivery rows and agent events first` : 'no history'}.`,
    '',
    '| round | p50 / p95 / p99 / max ms (accepted → received) | over 25 ms (bursts, largest) | PUT p50 / p99 ms | full GCs api / worker | scavenges api / worker | GC pause ms api / worker (sum, longest) | CPU ms per delivery | InnoDB: disk reads, LRU flushes, waits for a free page, pages flushed, fsyncs | peak RSS MB api / worker | exact |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.round}${r.side === 'service' ? '' : ` ${r.side}`} | ${r.latency.p50} / ${r.latency.p95} / ${r.latency.p99} / ${r.latency.max} | ${r.overTarget} of ${r.received} (${r.lateBursts.count}, ${r.lateBursts.largest}) | ${r.putLatency.p50} / ${r.putLatency.p99} | ` +
        `${r.collections.api.full} / ${r.collections.worker.full} | ${r.collections.api.scavenges} / ${r.collections.worker.scavenges} | ` +
        `${r.collections.api.pauseMs}, ${r.collections.api.longestPauseMs} / ${r.collections.worker.pauseMs}, ${r.collections.worker.longestPauseMs} | ` +
        `${Object.entries(r.cpuMsPerDelivery)
          .map(([key, value]) => `${key} ${value}`)
          .join(
            ', ',
          )} | ${['reads', 'pages_lru_flushed', 'wait_free', 'pages_flushed', 'data_fsyncs'].map((key) => r.innodb[key] ?? 0).join(', ')} | ${r.peakRssMb.api} / ${r.peakRssMb.worker} | ${r.ok ? 'yes' : 'NO'} |`,
    ),
    '',
    `p99 < ${TARGETS.fixedP99Ms} ms: ${p99s.filter((p99) => p99 < TARGETS.fixedP99Ms).length} of ${rounds} rounds (${p99s.join(', ')} ms).`,
    '',
    ...(withNaive ? naiveComparison(results) : []),
    ...(config.perf ? perfTable(results) : []),
    'Where the time went, by stage (bench/lib/stages.mjs), ms: mean (p50).',
    '',
    `| round | ${Object.keys(STAGES).join(' | ')} |`,
    `|---|${Object.keys(STAGES)
      .map(() => '---')
      .join('|')}|`,
    ...results.map(
      (r) =>
        `| ${r.round}${r.side === 'service' ? '' : ` ${r.side}`} | ${Object.keys(STAGES)
          .map((stage) => `${r.stages[stage].mean} (${r.stages[stage].p50})`)
          .join(' | ')} |`,
    ),
    '',
    ...Object.entries(STAGES).map(([stage, what]) => `- ${stage}: ${what}`),
    '',
  ];
  console.log(`\n${lines.join('\n')}`);
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${config.machine}-${new Date().toISOString().slice(0, 10)}-fixed-load`);
  writeFileSync(`${file}.md`, lines.join('\n'));
  writeFileSync(`${file}.json`, JSON.stringify({ settings: { rounds, ...config, phases: undefined }, results }, null, 2));
  log(`written: ${file}.md and .json`);
  clearTimeout(deadline);
  if (results.some((result) => !result.ok)) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  log(`failed: ${error.stack ?? error.message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
