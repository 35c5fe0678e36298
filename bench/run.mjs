// `npm run bench`: the end-to-end benchmark of agent-events against its floor (see bench/README.md).
// A fresh database and queue prefix of its own, a receiver of its own, API and worker as separate processes;
// prints a table and writes it, with the raw numbers, to bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { ALL_PHASES, LEVEL_PHASES, config, TARGETS } from './lib/config.mjs';
import { Receiver } from './lib/receiver.mjs';
import { Api } from './lib/http.mjs';
import { setupTenant } from './lib/setup.mjs';
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
  profileArgs,
  memory,
  serverPids,
  cpuSnapshot,
  cpuSince,
  mysqlCounters,
  redisCounters,
  counterDelta,
  round2,
  serviceEnv,
  restoreDirtyPagesSetting,
  startNaiveProcesses,
  waitForPurge,
} from './lib/infra.mjs';
import { measureFloor } from './lib/floor.mjs';
import { seedHistory, counts } from './lib/history.mjs';
import { StatusDriver } from './lib/drive.mjs';
import { steadyRate } from './lib/stats.mjs';
import { listEvents, postEvents, deliveryLog } from './lib/api-load.mjs';
import { renderReport } from './lib/report.mjs';
import { measureSqlCeiling } from './lib/sql-ceiling.mjs';
import { runFairness } from './lib/fairness.mjs';
import { runOrdering } from './lib/ordering.mjs';
import { runRecovery } from './lib/recovery.mjs';
import { latencyStages, stagesLine } from './lib/stages.mjs';
import { createDatabase, ensureServices } from '../scripts/services.mjs';
import { API_NODE_FLAGS, WORKER_NODE_FLAGS } from '../scripts/node-flags.mjs';

const log = (...args) => console.log(`[bench ${((performance.now() - T0) / 1000).toFixed(1).padStart(6)} s]`, ...args);
const T0 = performance.now();

const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14) + randomBytes(2).toString('hex');
const databaseName = `ae_bench_${stamp}`;
const ceilingDatabase = `${databaseName}_ceiling`;
const floorPrefix = `{ae-bench-${stamp}-floor}`;
const naivePrefix = `{ae-bench-${stamp}-naive}`;
const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`;
const pbxToken = `bench-pbx-${randomBytes(12).toString('hex')}`;
const CLIENT = 'bench';

// `databases`, `prefixes`, `receivers` and `levelDbs` are the levels' own (see prepareLevel): dropped, deleted, stopped
// and closed at the end.
const state = {
  services: [],
  db: null,
  redis: null,
  receiver: null,
  databases: [],
  prefixes: [floorPrefix, naivePrefix],
  receivers: [],
  levelDbs: [],
  cleaned: false,
};

async function cleanup() {
  if (state.cleaned) return;
  state.cleaned = true;
  await restoreDirtyPagesSetting();
  await Promise.all(state.services.map((service) => service.stop(config.profile ? 20_000 : 8_000).catch(() => undefined)));
  await Promise.all(state.levelDbs.map((db) => db.end().catch(() => undefined)));
  await state.db?.end().catch(() => undefined);
  if (!config.keep) {
    for (const name of [...state.databases, ...(state.ceilingCreated ? [ceilingDatabase] : [])])
      await dropDatabase(config.databaseUrl, name).catch((error) => log(`could not drop ${name}: ${error.message}`));
    if (state.redis) {
      for (const prefix of state.prefixes) {
        const deleted = await deletePrefix(state.redis, prefix).catch((error) => log(`could not clear ${prefix}: ${error.message}`));
        log(`deleted ${deleted} Redis keys of ${prefix}`);
      }
    }
  } else log(`kept databases ${state.databases.join(', ')} and Redis prefixes ${state.prefixes.join(', ')} (BENCH_KEEP=1)`);
  await state.redis?.quit().catch(() => undefined);
  await Promise.all([state.receiver, ...state.receivers].map((receiver) => receiver?.stop().catch(() => undefined)));
}

const deadline = cleanUpOnExit(cleanup, config.maxSeconds, log);

async function startServices(env, level) {
  const profileDir = join(ROOT, 'bench/results/tmp/profiles');
  if (config.logDir) mkdirSync(config.logDir, { recursive: true });
  const logFile = (name) => (config.logDir ? join(config.logDir, `${name}-${level}.log`) : undefined);
  const api = runService('main', env, {
    label: 'api',
    logFile: logFile('api'),
    nodeArgs: [...API_NODE_FLAGS, ...(config.profile ? profileArgs(profileDir, `api-${level}`) : [])],
  });
  const worker = runService('worker', env, {
    label: 'worker',
    logFile: logFile('worker'),
    nodeArgs: [...WORKER_NODE_FLAGS, ...(config.profile ? profileArgs(profileDir, `worker-${level}`) : [])],
  });
  state.services.push(api, worker);
  await Promise.all([api.waitFor('Swagger UI', 60_000), worker.waitFor('Delivery worker running', 60_000)]);
  return { api, worker };
}

async function stopServices(services) {
  await Promise.all([services.api.stop(config.profile ? 20_000 : 8_000), services.worker.stop(config.profile ? 20_000 : 8_000)]);
  state.services = state.services.filter((service) => service !== services.api && service !== services.worker);
  for (const service of [services.api, services.worker]) {
    const code = service.child.exitCode;
    if (code !== 0 && code !== null) log(`${service.label} exited with ${code}:\n${service.output().slice(-2000)}`);
  }
}

/** Runs `fn`, returning its result with the MariaDB/Redis counter deltas and CPU seconds of every process meanwhile. */
async function measured(pids, fn) {
  const [mysqlBefore, redisBefore] = await Promise.all([mysqlCounters(state.db), redisCounters(state.redis)]);
  const cpuBefore = cpuSnapshot(pids);
  const result = await fn();
  const cpuAfter = cpuSnapshot(pids);
  const [mysqlAfter, redisAfter] = await Promise.all([mysqlCounters(state.db), redisCounters(state.redis)]);
  return {
    result,
    mysql: counterDelta(mysqlBefore, mysqlAfter),
    redis: counterDelta(redisBefore, redisAfter),
    cpu: cpuSince(cpuBefore, cpuAfter),
  };
}

function perUnit(diag, units) {
  if (!units) return null;
  const per = (object) => Object.fromEntries(Object.entries(object).map(([key, value]) => [key, round2(value / units)]));
  const redisTotal = Object.values(diag.redis).reduce((a, b) => a + b, 0);
  return {
    units,
    mysql: per(diag.mysql),
    redisTotal: round2(redisTotal / units),
    redis: per(
      Object.fromEntries(
        Object.entries(diag.redis)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 12),
      ),
    ),
    cpuMs: Object.fromEntries(Object.entries(diag.cpu.cpuSeconds).map(([key, value]) => [key, round2((value * 1000) / units)])),
    cpuSeconds: diag.cpu.cpuSeconds,
    wallSeconds: diag.cpu.wallSeconds,
  };
}

/**
 * One history level, ready to measure: a database, queue prefix, ports and receiver of its own; the service's
 * migrations; an API and a worker, kept running until the level's last figure; the bench's tenant set up through
 * the API; then the history brought up to the level. Every level is prepared before any is measured, so the levels'
 * figures can be taken in turns (see main) instead of minutes apart.
 */
async function prepareLevel(level) {
  const name = `${databaseName}_${level}`;
  const queuePrefix = `{ae-bench-${stamp}-${level}}`;
  const databaseUrl = databaseUrlFor(config.databaseUrl, name);
  state.databases.push(name);
  state.prefixes.push(queuePrefix);
  await createDatabase(databaseUrl);
  const receiver = await new Receiver().start();
  state.receivers.push(receiver);
  const env = {
    ...serviceEnv({ databaseUrl, queuePrefix, adminToken, pbxToken }),
    PORT: String(await freePort()),
    // Its own port: the default 3001 may be taken on this machine (the worker would then serve no health or metrics).
    WORKER_HEALTH_PORT: String(await freePort()),
  };
  const migrate = runService('database/migrate', env, { label: 'migrate' });
  const migrated = await migrate.exited;
  if (migrated.code !== 0) throw new Error(`migrations failed:\n${migrate.output()}`);
  const db = await mysql.createConnection({ uri: databaseUrl, timezone: 'Z', multipleStatements: false });
  state.levelDbs.push(db);

  const services = await startServices(env, level);
  const api = new Api(`http://127.0.0.1:${env.PORT}`, adminToken);
  const { agents, sinks } = await setupTenant(api, receiver, {
    clientId: CLIENT,
    agents: config.agents,
    sinkAgents: config.sinkAgents,
    historyClient: config.historyClient,
  });
  const driver = new StatusDriver({ api, clientId: CLIENT, agents, receiver, db });
  const out = { level, phases: {}, rss: {}, diagnostics: {} };
  const history = await seedHistory(db, {
    clientId: config.historyClient === 'other' ? `${CLIENT}-history` : CLIENT,
    target: level,
    tag: level,
  });
  out.history = history;
  out.rows = await counts(db);
  log(`level ${level}: history ${JSON.stringify(history.inserted)} in ${history.seconds} s; rows now ${JSON.stringify(out.rows)}`);
  const pids = { api: services.api.pid, worker: services.worker.pid, ...serverPids() };
  const rss = (phase) => (out.rss[phase] = { api: memory(services.api.pid), worker: memory(services.worker.pid) });
  rss('start');
  return { level, env, db, receiver, services, api, agents, sinks, driver, out, pids, rss };
}

/**
 * A database, queue prefix, API and worker of a phase's own (fairness, ordering): migrated, no history, no tenant
 * (the phase sets up its own); `extraEnv` on top of the bench's service environment (BENCH_SERVICE_X still wins).
 * The worker can be stopped and a fresh one started (a backlog fills while it is stopped).
 */
async function prepareOwn(tag, extraEnv = {}) {
  const name = `${databaseName}_${tag}`;
  const queuePrefix = `{ae-bench-${stamp}-${tag}}`;
  const databaseUrl = databaseUrlFor(config.databaseUrl, name);
  state.databases.push(name);
  state.prefixes.push(queuePrefix);
  await createDatabase(databaseUrl);
  const env = {
    ...serviceEnv({ databaseUrl, queuePrefix, adminToken, pbxToken, extra: { ...extraEnv, ...config.serviceEnv } }),
    PORT: String(await freePort()),
    WORKER_HEALTH_PORT: String(await freePort()),
  };
  const migrate = runService('database/migrate', env, { label: 'migrate' });
  if ((await migrate.exited).code !== 0) throw new Error(`migrations failed:\n${migrate.output()}`);
  const db = await mysql.createConnection({ uri: databaseUrl, timezone: 'Z', multipleStatements: false });
  state.levelDbs.push(db);
  // BENCH_LANES=split: this worker serves the backlog lane, and a second worker process the first lane.
  const split = config.lanes === 'split';
  if (split) env.WORKER_LANES = 'backlog';
  const firstEnv = split ? { ...env, WORKER_LANES: 'first', WORKER_HEALTH_PORT: String(await freePort()) } : undefined;
  const services = await startServices(env, tag);
  const api = new Api(`http://127.0.0.1:${env.PORT}`, adminToken);
  const runWorker = (workerEnv, label) => {
    const worker = runService('worker', workerEnv, {
      label: 'worker',
      logFile: config.logDir ? join(config.logDir, `worker-${label}.log`) : undefined,
      nodeArgs: [...WORKER_NODE_FLAGS, ...(config.profile ? profileArgs(join(ROOT, 'bench/results/tmp/profiles'), `worker-${label}`) : [])],
    });
    state.services.push(worker);
    return worker;
  };
  let firstLane = firstEnv ? runWorker(firstEnv, `${tag}-first`) : undefined;
  await firstLane?.waitFor('Delivery worker running', 60_000);
  const stopWorker = async () => {
    await Promise.all([services.worker.stop(), firstLane?.stop()]);
    state.services = state.services.filter((service) => service !== services.worker && service !== firstLane);
  };
  // With a worker per lane, the first lane's worker starts first, and `warmFirstLane()` runs before the backlog's
  // worker starts: a fresh process spends its first second of CPU compiling its code, which would otherwise fall on
  // the drain, and only on the drains that the neighbour's webhooks take part in.
  const startWorker = async (label, { warmFirstLane } = {}) => {
    if (firstEnv) {
      firstLane = runWorker(firstEnv, `${label}-first`);
      await firstLane.waitFor('Delivery worker running', 60_000);
      await warmFirstLane?.();
    }
    const worker = runWorker(env, label);
    services.worker = worker;
    await worker.waitFor('Delivery worker running', 60_000);
    return worker;
  };
  const stop = async () => {
    api.close();
    await Promise.all([stopServices(services), firstLane?.stop()]);
  };
  return { tag, env, db, api, services, stopWorker, startWorker, stop };
}

/** Starts a receiver of a phase's own, stopped at the end of the run. */
async function addReceiver(receiver) {
  state.receivers.push(receiver);
  return receiver.start();
}

/** The API alone at one level (the status-change phases come later: they add thousands of deliveries). */
async function runApiGroup(ctx) {
  await settle(ctx, 'the API figures');
  await runApiAlone(ctx.level, ctx.out, {
    base: `http://127.0.0.1:${ctx.env.PORT}`,
    receiver: ctx.receiver,
    sinks: ctx.sinks,
    agents: ctx.agents,
    pids: ctx.pids,
    db: ctx.db,
  });
  ctx.rss('api');
}

/** Saturation and the backlog at one level; the level's API and worker stop after it. */
async function runSaturationGroup(ctx) {
  await settle(ctx, 'saturation');
  await runSaturation(ctx.level, ctx.out, { driver: ctx.driver, pids: ctx.pids, rss: ctx.rss });
  await runBacklog(ctx.level, ctx.out, { driver: ctx.driver, pids: ctx.pids, services: ctx.services, env: ctx.env });
  ctx.rss('end');
  await stopLevel(ctx);
}

async function stopLevel(ctx) {
  ctx.api.close();
  await stopServices(ctx.services);
}

/**
 * Waits until InnoDB has purged what earlier phases left (at any level: they share the server), before `phase`: every
 * measured phase of the service and of the naive reference starts from the same state, not paying for the writes of
 * the one before it (a saturation run leaves tens of thousands of old row versions).
 */
async function settle({ db, out, level }, phase) {
  const settled = await waitForPurge(db);
  (out.settled ??= []).push({ phase, ...settled });
  log(
    `level ${level}: InnoDB history list ${settled.historyLength} after ${settled.seconds} s of waiting for purge, ${settled.dirtyBefore} dirty pages written out in ${settled.flushSeconds ?? '–'} s (${settled.dirtyPages} left; ${settled.freePages} of ${settled.poolPages} free), before ${phase}`,
  );
}

/** Warm-up (JIT, pools, keep-alive sockets): checked, not reported as a figure. */
async function runWarmup(level, out, driver, tag = '') {
  const warm = `L${level}${tag}:warmup`;
  await driver.closedLoop(warm, config.saturationInflight, config.warmupSeconds);
  await driver.drain(warm, config.drainSeconds * 1000);
  out.phases.warmup = driver.verify(warm);
  log(`level ${level}${tag}: warm-up ${out.phases.warmup.received}/${out.phases.warmup.expected}`);
}

/** A side's fixed-load phase: `fixed`, or `fixedBeside` for the run taken in turns with the naive reference's. */
const fixedPhaseOf = (side) => side.phase ?? 'fixed';
const fixedNameOf = (side) => `L${side.level}${side.tag ?? ''}:${fixedPhaseOf(side)}`;

/**
 * The fixed offered load, well under saturation (open loop), `seconds` for each of `sides` in `slices` slices that
 * take turns (order A B, then B A, …): what the machine does meanwhile falls on every side alike.
 */
async function runFixed(sides, slices, seconds = config.fixedSeconds) {
  const sliceSeconds = seconds / slices;
  const runs = new Map(sides.map((side) => [side, []]));
  const diags = new Map(sides.map((side) => [side, []]));
  for (let slice = 0; slice < slices; slice++) {
    for (const side of slice % 2 === 0 ? sides : [...sides].reverse()) {
      const name = fixedNameOf(side);
      // Sides on one database and driver (the service and the naive reference) differ by the API they are driven through.
      if (side.api) side.driver.api = side.api;
      const diag = await measured(side.pids, async () => {
        const run = await side.driver.openLoop(name, config.fixedRate, sliceSeconds);
        await side.driver.drain(name, config.drainSeconds * 1000);
        return run;
      });
      runs.get(side).push(diag.result);
      diags.get(side).push(diag);
    }
  }
  for (const side of sides) {
    const { level, out, driver, rss, tag = '' } = side;
    const name = fixedNameOf(side);
    const phase = fixedPhaseOf(side);
    const sideRuns = runs.get(side);
    // Rates over the slices' own windows (the other side's slices between them left out).
    const windows = sideRuns.map((run) => driver.windowRates(name, run.started, run.ended));
    const seconds = windows.reduce((sum, window) => sum + window.seconds, 0);
    const weighted = (key) => round2(windows.reduce((sum, window) => sum + window[key] * window.seconds, 0) / seconds);
    out.phases[phase] = {
      ...driver.verify(name),
      offeredRate: config.fixedRate,
      slices,
      seconds: round2(seconds),
      deliveriesPerSecond: weighted('deliveriesPerSecond'),
      acceptedPerSecond: weighted('acceptedPerSecond'),
      maxScheduleLagMs: Math.max(...sideRuns.map((run) => run.maxScheduleLagMs)),
      sent: sideRuns.reduce((sum, run) => sum + run.sent, 0),
    };
    // Where the time went, stage by stage (bench/lib/stages.mjs), from the side's job hashes and attempt rows.
    const queuePrefix = side.queuePrefix ?? side.env?.QUEUE_PREFIX;
    if (queuePrefix) {
      out.phases[phase].stages = await latencyStages({ driver, phaseName: name, redis: state.redis, db: driver.db, queuePrefix });
      log(`level ${level}${tag}: ${phase}, where the time went: ${stagesLine(out.phases[phase].stages)}`);
    }
    out.diagnostics[`${phase}PerDelivery`] = perUnit(sumDiagnostics(diags.get(side)), out.phases[phase].received);
    rss(phase);
    log(`level ${level}${tag}: ${phase} ${config.fixedRate}/s (${slices} slices): latency ${JSON.stringify(out.phases[phase].latency)}`);
  }
}

/** The counter deltas and CPU seconds of several measured() runs, added up. */
function sumDiagnostics(diags) {
  const add = (key) =>
    diags.reduce((sum, diag) => {
      for (const [name, value] of Object.entries(diag[key])) sum[name] = (sum[name] ?? 0) + value;
      return sum;
    }, {});
  const cpuSeconds = diags.reduce((sum, diag) => {
    for (const [name, value] of Object.entries(diag.cpu.cpuSeconds)) sum[name] = (sum[name] ?? 0) + value;
    return sum;
  }, {});
  const wallSeconds = diags.reduce((sum, diag) => sum + diag.cpu.wallSeconds, 0);
  return { mysql: add('mysql'), redis: add('redis'), cpu: { cpuSeconds, wallSeconds } };
}

/** Saturation: closed loop, N PUTs always in flight; the sustained rate is read in the steady window. */
async function runSaturation(level, out, { driver, pids, rss, tag = '' }) {
  const sat = `L${level}${tag}:saturation`;
  let drainedAt;
  let satRun;
  const satDiag = await measured(pids, async () => {
    satRun = await driver.closedLoop(sat, config.saturationInflight, config.saturationSeconds);
    drainedAt = await driver.drain(sat, config.drainSeconds * 1000);
  });
  const steady = driver.windowRates(sat, satRun.started + config.steadySkipSeconds * 1000, satRun.ended);
  const satCheck = driver.verify(sat);
  out.phases.saturation = {
    ...satCheck,
    inflight: config.saturationInflight,
    driveSeconds: round2((satRun.ended - satRun.started) / 1000),
    drainSecondsAfterDrive: round2((drainedAt - satRun.ended) / 1000),
    deliveriesPerSecond: steady.deliveriesPerSecond,
    acceptedPerSecond: steady.acceptedPerSecond,
    steadyWindowSeconds: steady.seconds,
    wholeRunPerSecond: round2(satCheck.received / ((drainedAt - satRun.started) / 1000)),
  };
  out.diagnostics.saturationPerDelivery = perUnit(satDiag, satCheck.received);
  rss('saturation');
  log(
    `level ${level}${tag}: saturation ${steady.deliveriesPerSecond} deliveries/s (accepted ${steady.acceptedPerSecond}/s), latency ${JSON.stringify(satCheck.latency)}`,
  );
  out.unexpectedWebhooks = driver.unexpected();
}

/**
 * The naive durable reference (bench/naive/): the same work as the service written plainly, one statement and one
 * Redis call at a time, on the same database, agents and receiver, driven and checked by the same code.
 *
 * Saturation runs twice on each side, in the order service (the level's own run), naive, naive, service. The fixed
 * load compared runs with both sides up, in slices that take turns (service, naive, naive, service, …): a slow spell of
 * the machine, which lasts from seconds to minutes here, falls on both sides alike (see pairedFixed).
 */
async function runNaive(level, serviceOut, { driver, env, db }) {
  const naive = await startNaiveProcesses(env, { queuePrefix: naivePrefix, adminToken });
  state.services.push(naive.api, naive.worker);
  await naive.ready();
  const out = { level, phases: {}, rss: {}, diagnostics: {} };
  const naivePids = { 'naive-api': naive.api.pid, 'naive-worker': naive.worker.pid, ...serverPids() };
  const naiveRss = (phase) => (out.rss[phase] = { api: memory(naive.api.pid), worker: memory(naive.worker.pid) });
  const naiveApi = new Api(naive.url, adminToken);
  driver.api = naiveApi;
  log(`level ${level}: naive durable reference (bench/naive/), concurrency ${config.concurrency}`);
  await runWarmup(level, out, driver, '-naive');
  await settle({ db, out, level }, 'saturation-naive');
  await runSaturation(level, out, { driver, pids: naivePids, rss: naiveRss, tag: '-naive' });
  out.phases.saturationAgain = await saturationAgain(driver, `L${level}-naive:saturation-again`, { db, out, level, pids: naivePids });
  if (serviceOut.phases.saturation) {
    const again = await startServices(env, `${level}-again`);
    const serviceApi = new Api(`http://127.0.0.1:${env.PORT}`, adminToken);
    driver.api = serviceApi;
    // Warmed up by a whole saturation run, not counted: the naive reference's runs follow its own warm-up.
    const warm = `L${level}-again:warmup`;
    await driver.closedLoop(warm, config.saturationInflight, config.saturationSeconds);
    await driver.drain(warm, config.drainSeconds * 1000);
    serviceOut.phases.warmupAgain = driver.verify(warm);
    const pids = { api: again.api.pid, worker: again.worker.pid, ...serverPids() };
    const rss = (phase) => (serviceOut.rss[phase] = { api: memory(again.api.pid), worker: memory(again.worker.pid) });
    // Its second saturation run comes before the fixed load: by then it has run at saturation as long as the naive
    // reference has (its warm-up and its two runs).
    serviceOut.phases.saturationAgain = await saturationAgain(driver, `L${level}-again:saturation`, { db, out: serviceOut, level, pids });
    if (serviceOut.phases.fixed) {
      await settle({ db, out: serviceOut, level }, 'the fixed load beside the naive reference');
      await runFixed(
        [
          {
            level,
            out: serviceOut,
            driver,
            api: serviceApi,
            pids,
            rss,
            tag: '-again',
            phase: 'fixedBeside',
            queuePrefix: env.QUEUE_PREFIX,
          },
          {
            level,
            out,
            driver,
            api: naiveApi,
            pids: naivePids,
            rss: naiveRss,
            tag: '-naive',
            phase: 'fixedBeside',
            queuePrefix: naivePrefix,
          },
        ],
        config.naiveFixedSlices,
        config.naiveFixedSeconds,
      );
      serviceOut.fixedPaired = pairedFixed(driver, serviceOut, `L${level}-again:fixedBeside`);
      out.fixedPaired = pairedFixed(driver, out, `L${level}-naive:fixedBeside`);
    }
    serviceApi.close();
    await stopServices(again);
  }
  naiveApi.close();
  await stopServices(naive);
  const services = [serviceOut.phases.saturation, serviceOut.phases.saturationAgain].map((phase) => phase?.deliveriesPerSecond);
  const naives = [out.phases.saturation, out.phases.saturationAgain].map((phase) => phase.deliveriesPerSecond);
  const sum = (values) => (values.every((value) => value > 0) ? values.reduce((a, b) => a + b, 0) : null);
  const ratio = sum(services) && sum(naives) ? round2(sum(services) / sum(naives)) : null;
  out.e2eToNaive = {
    service: services,
    naive: naives,
    ratio,
    target: TARGETS.e2eToNaive,
    pass: ratio != null && ratio >= TARGETS.e2eToNaive,
  };
  log(
    `level ${level}: service ${services.join(' + ')} ÷ naive ${naives.join(' + ')} deliveries/s = ${ratio}× (target ≥ ${TARGETS.e2eToNaive}×)`,
  );
  return out;
}

/**
 * A side's fixed load compared with the other side's, as the ratios read it (`fixedPaired`, bench/lib/report.mjs):
 * its latencies and CPU per delivery, from slices taken in turns with the other side. Before, each side ran twice
 * (30 s each, in the order service, naive, naive, service); a slow spell of a minute or more still fell on one side's
 * two runs and decided the ratios (bench/README.md, History, 2026-12-05).
 */
function pairedFixed(driver, run, phaseName) {
  const { units, cpuMs } = run.diagnostics.fixedBesidePerDelivery;
  return { phases: [phaseName], deliveries: units, ...driver.pooledLatency([phaseName]), cpuMs };
}

/**
 * One more saturation run (closed loop, checked like the first), once InnoDB purged: its sustained rate in the steady
 * window, and what a delivery cost each process and server (as the first run's), to compare the two.
 */
async function saturationAgain(driver, name, ctx) {
  await settle(ctx, name);
  let run;
  const diag = await measured(ctx.pids, async () => {
    run = await driver.closedLoop(name, config.saturationInflight, config.saturationSeconds);
    await driver.drain(name, config.drainSeconds * 1000);
  });
  const steady = driver.windowRates(name, run.started + config.steadySkipSeconds * 1000, run.ended);
  const check = driver.verify(name);
  ctx.out.diagnostics.saturationAgainPerDelivery = perUnit(diag, check.received);
  return { ...check, deliveriesPerSecond: steady.deliveriesPerSecond, acceptedPerSecond: steady.acceptedPerSecond };
}

/**
 * Diagnostic, worker alone: changes accepted with the worker stopped (the API's own rate for PUT status), then a
 * fresh worker drains the backlog (its rate, comparable to the floor, which also drains a filled queue).
 */
async function runBacklog(level, out, { driver, pids, services, env }) {
  await services.worker.stop();
  state.services = state.services.filter((service) => service !== services.worker);
  const phase = `L${level}:backlog`;
  const diag = await measured(pids, () => driver.closedLoopCount(phase, config.saturationInflight, config.backlog));
  const fill = diag.result;
  const logFile = config.logDir ? join(config.logDir, `worker-${level}-backlog.log`) : undefined;
  const worker = runService('worker', env, {
    label: 'worker',
    logFile,
    nodeArgs: [
      ...WORKER_NODE_FLAGS,
      ...(config.profile ? profileArgs(join(ROOT, 'bench/results/tmp/profiles'), `worker-backlog-${level}`) : []),
    ],
  });
  state.services.push(worker);
  services.worker = worker;
  pids.worker = worker.pid;
  await worker.waitFor('Delivery worker running', 60_000);
  // From here on (start-up left out; the first deliveries may already be under way).
  const drainDiag = await measured(pids, () => driver.drain(phase, config.drainSeconds * 1000));
  const check = driver.verify(phase);
  const times = driver.arrivalTimes(phase);
  out.phases.backlog = {
    ...check,
    latency: undefined,
    acceptedPerSecondApiAlone: round2(fill.sent / ((fill.ended - fill.started) / 1000)),
    workerDeliveriesPerSecond: steadyRate(times),
    workerPeakRssMb: memory(worker.pid).peakMb,
  };
  out.diagnostics.backlogFillPerChange = perUnit(diag, fill.sent);
  out.diagnostics.backlogDrainPerDelivery = perUnit(drainDiag, check.received);
  log(
    `level ${level}: backlog: API alone accepted ${out.phases.backlog.acceptedPerSecondApiAlone}/s; a fresh worker drained ${check.received}/${check.expected} at ${out.phases.backlog.workerDeliveriesPerSecond}/s`,
  );
}

async function runApiAlone(level, out, { base, receiver, sinks, agents, pids, db }) {
  const agentIds = agents.map((agent) => agent.id);
  // Warm-up of the read path (JIT, pool connections), not reported.
  await listEvents({ base, token: adminToken, clientId: CLIENT, agentIds, seconds: Math.max(1, config.warmupSeconds), mode: 'max' });
  const listFixed = await measured(pids, () =>
    listEvents({ base, token: adminToken, clientId: CLIENT, agentIds, seconds: config.listSeconds, rate: config.listRate, mode: 'steady' }),
  );
  out.phases.listAtRate = listFixed.result;
  out.diagnostics.listPerRequest = perUnit(listFixed, listFixed.result.requests);
  log(
    `level ${level}: GET list @${config.listRate}/s steady: ${listFixed.result.requestsPerSecond} req/s, p99 ${listFixed.result.latencyMs.p99} ms`,
  );
  const listBursts = await listEvents({
    base,
    token: adminToken,
    clientId: CLIENT,
    agentIds,
    seconds: config.listSeconds,
    rate: config.listRate,
    mode: 'bursts',
  });
  out.phases.listBursts = listBursts;
  log(
    `level ${level}: GET list @${config.listRate}/s in per-second bursts: ${listBursts.requestsPerSecond} req/s, p99 ${listBursts.latencyMs.p99} ms`,
  );
  const listMax = await listEvents({ base, token: adminToken, clientId: CLIENT, agentIds, seconds: config.listMaxSeconds, mode: 'max' });
  out.phases.listMax = listMax;
  log(`level ${level}: GET list unthrottled: ${listMax.requestsPerSecond} req/s, p99 ${listMax.latencyMs.p99} ms`);

  const eventsBefore = (await counts(db)).agent_events;
  const post = await measured(pids, () =>
    postEvents({
      base,
      token: adminToken,
      clientId: CLIENT,
      agentIds: sinks,
      seconds: config.postSeconds,
      targetUrl: receiver.url('/sink'),
    }),
  );
  const eventsAfter = (await counts(db)).agent_events;
  out.phases.post = { ...post.result, rowsAdded: eventsAfter - eventsBefore };
  // autocannon stops counting at the deadline; requests still in flight then (at most one per connection) may commit.
  out.phases.post.ok =
    out.phases.post.ok &&
    out.phases.post.rowsAdded >= out.phases.post.ok2xx &&
    out.phases.post.rowsAdded <= out.phases.post.ok2xx + out.phases.post.connections;
  out.diagnostics.postPerRequest = perUnit(post, post.result.requests);
  log(`level ${level}: POST event: ${post.result.requestsPerSecond} req/s, p99 ${post.result.latencyMs.p99} ms`);

  const logRun = await measured(pids, () => deliveryLog({ base, token: adminToken, clientId: CLIENT, seconds: config.logSeconds }));
  out.phases.deliveryLog = logRun.result;
  out.diagnostics.deliveryLogPerRequest = perUnit(logRun, logRun.result.requests);
  log(`level ${level}: GET delivery log: ${logRun.result.requestsPerSecond} req/s, p99 ${logRun.result.latencyMs.p99} ms`);
}

/**
 * The SQL ceiling, last, with every API and worker stopped, in a database of its own (migrated by the service's own
 * command, dropped afterwards): the rows it writes never touch a level's database.
 */
async function runCeiling(level, env) {
  const url = databaseUrlFor(config.databaseUrl, ceilingDatabase);
  await createDatabase(url);
  state.ceilingCreated = true;
  const migrate = runService('database/migrate', { ...env, DATABASE_URL: url }, { label: 'migrate' });
  if ((await migrate.exited).code !== 0) throw new Error(`migrations failed:\n${migrate.output()}`);
  const ceiling = { level, ...(await measureSqlCeiling({ databaseUrl: url, seconds: config.sqlCeilingSeconds, keepRows: true })) };
  await dropDatabase(config.databaseUrl, ceilingDatabase);
  state.ceilingCreated = false;
  log(
    `level ${level}: SQL ceiling ${ceiling.deliveriesPerSecond} deliveries/s; per delivery ${ceiling.statementsPerDelivery} statements, MariaDB ${ceiling.mariadbCpuMsPerDelivery} CPU ms; checks ${ceiling.ok ? 'ok' : 'FAILED'}`,
  );
  return ceiling;
}

async function main() {
  log(
    `agent-events benchmark${config.quick ? ' (quick)' : ''}: databases ${databaseName}_<level>, queue prefixes {ae-bench-${stamp}-<level>}`,
  );
  if (!config.skipBuild) {
    log('building dist/ (tsc -p tsconfig.build.json)');
    build();
  }
  // The levels, the floor, the naive reference and the SQL ceiling; not run when only fairness and ordering are asked.
  const levelRun = LEVEL_PHASES.some((phase) => config.phases.has(phase));
  state.receiver = await new Receiver().start();
  // The project's own check: MariaDB and Redis answer (started or installed where it can).
  await ensureServices({ databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, log: (line) => log(line), createDatabase: false });
  const mysqlVersion = await serverVersion(config.databaseUrl);
  state.redis = redisClient(config.redisUrl);
  const redisVersion = /redis_version:(\S+)/.exec(await state.redis.info('server'))?.[1];
  // For the server-wide counters (SHOW GLOBAL STATUS) only.
  state.db = await mysql.createConnection({ uri: databaseUrlFor(config.databaseUrl, ''), timezone: 'Z' });

  let floor = null;
  if (levelRun) {
    log(`floor: ${config.floorJobs} jobs, bare BullMQ worker, concurrency ${config.concurrency}`);
    const floorRun = await measured(serverPids(), () =>
      measureFloor({
        redisUrl: config.redisUrl,
        prefix: floorPrefix,
        receiver: state.receiver,
        jobs: config.floorJobs,
        concurrency: config.concurrency,
      }),
    );
    floor = floorRun.result;
    floor.perJob = perUnit(
      { ...floorRun, cpu: { ...floorRun.cpu, cpuSeconds: { ...floorRun.cpu.cpuSeconds, floorWorker: floor.workerCpuSeconds } } },
      floor.received,
    );
    log(`floor: ${floor.deliveriesPerSecond} deliveries/s (${floor.received}/${floor.jobs} received, ${floor.duplicates} duplicates)`);
    log(
      `setup, at every level: client ${CLIENT}, ${config.agents} agents with an agent-login and an agent-logout event each, ${config.sinkAgents} sink agents`,
    );
  }
  const contexts = [];
  if (levelRun) for (const level of config.levels) contexts.push(await prepareLevel(level));
  // The levels take turns: the API phases in level order, then the status-change phases in reverse order (with two
  // levels: A B B A). The machine's speed drifts by tens of per cent within minutes here; measured in turns, the
  // figures each level is compared on are taken next to each other, not one whole level (two minutes) apart.
  if (config.phases.has('api')) for (const ctx of contexts) await runApiGroup(ctx);
  const reversed = [...contexts].reverse();
  if (config.phases.has('e2e')) {
    for (const ctx of reversed) {
      await settle(ctx, 'the warm-up');
      ctx.out.rowsBeforeE2e = await counts(ctx.db);
      await runWarmup(ctx.level, ctx.out, ctx.driver);
    }
    // What the warm-ups (at saturation) left is purged before the fixed load, as before every measured phase.
    await settle(reversed[0], 'the fixed load');
    // The fixed load in slices that take turns between the levels: its p99 rests on a few dozen of the slowest
    // deliveries, which one stall of the machine can make; in turns, a stall falls on either level alike.
    await runFixed(reversed, config.fixedSlices);
    for (const ctx of reversed) await runSaturationGroup(ctx);
  } else for (const ctx of contexts) await stopLevel(ctx);
  // The naive reference follows the first level's own status changes, on that level's database, agents and receiver.
  if (config.phases.has('naive'))
    state.naive = await runNaive(contexts[0].level, contexts[0].out, {
      driver: contexts[0].driver,
      env: contexts[0].env,
      db: contexts[0].db,
    });
  // Fairness and per-agent order, each on a database, queue prefix, API and worker of its own, after every level's
  // processes stopped (the machine to themselves) and before the SQL ceiling (which wants every service stopped).
  let fairness;
  if (config.phases.has('fairness')) {
    log(
      `fairness: client ${CLIENT}, ${config.agents} agents, backlogs of ${config.fairBacklog}; a neighbour client with one agent on ${config.neighbourHost}, a change every ${config.neighbourIntervalMs} ms`,
    );
    const own = await prepareOwn('fair');
    fairness = await runFairness(own, { addReceiver, log });
    await own.stop();
  }
  let ordering;
  if (config.phases.has('ordering')) {
    log(
      `ordering: one agent, both events on one URL, ${config.orderToggles} changes every ${config.orderIntervalMs} ms; 503 to every ${config.orderFailEvery}th request; WEBHOOK_RETRY_SCHEDULE=${config.orderRetrySchedule}`,
    );
    const own = await prepareOwn('order', { WEBHOOK_RETRY_SCHEDULE: config.orderRetrySchedule });
    ordering = await runOrdering(own, { addReceiver, log });
    await own.stop();
  }
  let recovery;
  if (config.phases.has('recovery')) {
    log(
      `recovery: ${config.recoveryBacklog} dead deliveries of client ${CLIENT} sent again by one recover call; a neighbour client with one agent on ${config.neighbourHost}, a change every ${config.neighbourIntervalMs} ms`,
    );
    const own = await prepareOwn('recovery');
    recovery = await runRecovery(own, { addReceiver, log });
    await own.stop();
  }
  const ceiling = config.phases.has('ceiling') ? await runCeiling(contexts[0].level, contexts[0].env) : undefined;
  const levels = contexts.map((ctx) => ctx.out);

  let failedAttempts = 0;
  for (const ctx of contexts) {
    const [[row]] = await ctx.db.query(
      `SELECT COUNT(*) AS failed FROM delivery_attempts WHERE started_at > NOW() - INTERVAL 1 DAY AND (status_code IS NULL OR status_code >= 300)`,
    );
    failedAttempts += Number(row.failed);
  }
  const sum = (values) => values.reduce((a, b) => a + b, 0);
  const results = {
    benchmark: 'agent-events end-to-end',
    quick: config.quick,
    startedAt: new Date(Date.now() - (performance.now() - T0)).toISOString(),
    runSeconds: Math.round((performance.now() - T0) / 1000),
    machine: {
      label: config.machine,
      hostname: hostname(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      mariadb: mysqlVersion,
      redis: redisVersion,
    },
    settings: {
      ...config,
      phases: [...config.phases],
      serviceEnv: Object.keys(config.serviceEnv),
      databaseUrl: undefined,
      redisUrl: undefined,
    },
    targets: TARGETS,
    floor,
    ceiling,
    levels,
    naive: state.naive ?? null,
    fairness: fairness ?? null,
    recovery: recovery ?? null,
    ordering: ordering ?? null,
    checks: {
      unexpectedWebhooks:
        sum(contexts.map((ctx) => ctx.driver.unexpected())) +
        (fairness?.unexpectedWebhooks ?? 0) +
        (ordering?.unexpectedWebhooks ?? 0) +
        (recovery?.unexpectedWebhooks ?? 0),
      putErrors: [
        ...contexts.flatMap((ctx) => ctx.driver.putErrors),
        ...(fairness?.putErrors ?? []),
        ...(ordering?.putErrors ?? []),
        ...(recovery?.putErrors ?? []),
      ].slice(0, 20),
      failedAttemptsRecentInDb: failedAttempts,
      otherRequestsAtReceiver: sum([state.receiver, ...state.receivers].map((receiver) => receiver.other.length)),
    },
  };
  const partial = ALL_PHASES.some((phase) => !config.phases.has(phase)) ? `-${[...config.phases].join('-')}` : '';
  const { table, markdown } = renderReport(results);
  console.log(`\n${table}\n`);
  // Profiling and partial runs are experiments: they go to bench/results/tmp/ (ignored by git).
  const dir = join(ROOT, config.profile || partial ? 'bench/results/tmp' : 'bench/results');
  mkdirSync(dir, { recursive: true });
  const name =
    process.env.BENCH_RESULT_NAME ||
    `${config.machine}-${new Date().toISOString().slice(0, 10)}${config.quick ? '-quick' : ''}${config.profile ? '-profile' : ''}${partial}`;
  mkdirSync(dirname(join(dir, name)), { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(join(dir, `${name}.md`), markdown);
  log(`wrote ${join(dir, name).slice(ROOT.length)}.json and .md`);
  return results;
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  console.error(`benchmark failed: ${error.stack ?? error}`);
  for (const service of state.services) console.error(`--- ${service.label} output (tail) ---\n${service.output().slice(-3000)}`);
} finally {
  clearTimeout(deadline);
  await cleanup();
}
process.exit(exitCode);
