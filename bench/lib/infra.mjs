// Databases, Redis keys, and the service's processes (API, worker, migrations) as they run in production.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, mkdirSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { config } from './config.mjs';

export const ROOT = new URL('../..', import.meta.url).pathname;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function build() {
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}${result.stderr}`);
}

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `mysql://…/any` → the same server with database `name`. */
export function databaseUrlFor(baseUrl, name) {
  const url = new URL(baseUrl.replace(/^mariadb:/, 'mysql:'));
  url.pathname = `/${name}`;
  return url.toString();
}

export async function serverVersion(baseUrl) {
  const connection = await mysql.createConnection({ uri: databaseUrlFor(baseUrl, '') });
  const [[{ version }]] = await connection.query('SELECT VERSION() AS version');
  await connection.end();
  return version;
}

export async function dropDatabase(baseUrl, name) {
  const connection = await mysql.createConnection({ uri: databaseUrlFor(baseUrl, '') });
  await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await connection.end();
}

/** Deletes the keys of one queue prefix with SCAN + UNLINK (Redis is shared: never FLUSHALL/FLUSHDB). */
export async function deletePrefix(redis, prefix) {
  let cursor = '0';
  let deleted = 0;
  // A glob: escape the characters SCAN MATCH treats specially.
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
  for (let rounds = 0; rounds < 100_000; rounds++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length) deleted += await redis.unlink(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  return deleted;
}

export function redisClient(redisUrl) {
  return new Redis(redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
}

/**
 * The environment the bench runs the API and the worker with, as in production, except: listening on 127.0.0.1 only;
 * logs at `warn` (at `info` every request and every attempt is a JSON line, which costs CPU in the service and in the
 * bench that reads its output); and `WEBHOOK_HOST_CONCURRENCY` equal to the worker concurrency, since every webhook of
 * the bench goes to one receiver host, where a production worker sends to many (the default of 16 per host would make
 * the bench measure that limit). `BENCH_SERVICE_X=v` settings win over all of these.
 */
export function serviceEnv({
  databaseUrl,
  queuePrefix,
  adminToken,
  pbxToken = `bench-pbx-${randomBytes(12).toString('hex')}`,
  redisUrl = config.redisUrl,
  concurrency = config.concurrency,
  extra = config.serviceEnv,
}) {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: queuePrefix,
    ADMIN_TOKEN: adminToken,
    PBX_TOKEN: pbxToken,
    TOKEN_SIGNING_KEY: `bench-signing-${randomBytes(24).toString('hex')}`,
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
    WORKER_CONCURRENCY: String(concurrency),
    WEBHOOK_HOST_CONCURRENCY: String(concurrency),
    ...extra,
  };
}

/**
 * One of the service's entry points as a child process (or another script, `script` relative to the repository), run
 * in `cwd` (the repository by default); output kept for errors and readiness.
 */
export function runService(entry, env, { nodeArgs = [], label = entry, logFile, script = `dist/src/${entry}.js`, cwd = ROOT } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, resolve(ROOT, script)], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  if (logFile) {
    const file = createWriteStream(logFile, { flags: 'a' });
    child.stdout.pipe(file, { end: false });
    child.stderr.pipe(file, { end: false });
    child.on('exit', () => file.end());
  }
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const service = {
    label,
    child,
    pid: child.pid,
    exited,
    output: () => output,
    async waitFor(text, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label} exited before "${text}":\n${output}`);
        if (Date.now() > until) throw new Error(`${label} never printed "${text}" in ${timeoutMs} ms:\n${output}`);
        await sleep(50);
      }
    },
    /** SIGTERM (graceful: lets --cpu-prof write its profile), SIGKILL after `graceMs`. */
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  return service;
}

/**
 * The naive durable reference's API and worker (bench/naive/) on the database and Redis of a service's `env`, under
 * `queuePrefix`, each with Node flags of its own (`nodeArgs.api`, `nodeArgs.worker`) and the bench's concurrency.
 * Plain `node`, as a hand-written service would run: with the service's --max-old-space-size it was slower (quick
 * runs, deliveries/s: 743, 667 and 673 without; 629 and 629 with 1 GB, 608 and 578 with 512 MB). `ready()` resolves
 * once both listen.
 */
export async function startNaiveProcesses(env, { queuePrefix, adminToken, nodeArgs = {}, cwd }) {
  const naiveEnv = {
    DATABASE_URL: env.DATABASE_URL,
    REDIS_URL: env.REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    ADMIN_TOKEN: adminToken,
    CONCURRENCY: String(config.concurrency),
    PORT: String(await freePort()),
  };
  const api = runService('naive-api', naiveEnv, { label: 'naive-api', script: 'bench/naive/api.mjs', nodeArgs: nodeArgs.api ?? [], cwd });
  const worker = runService('naive-worker', naiveEnv, {
    label: 'naive-worker',
    script: 'bench/naive/worker.mjs',
    nodeArgs: nodeArgs.worker ?? [],
    cwd,
  });
  const ready = () => Promise.all([api.waitFor('naive api ready', 30_000), worker.waitFor('naive worker ready', 30_000)]);
  return { api, worker, url: `http://127.0.0.1:${naiveEnv.PORT}`, ready };
}

export function profileArgs(dir, name) {
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`];
}

/** Peak (VmHWM) and current (VmRSS) resident set of a process, in MB. */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { peakMb: round1(kb('VmHWM') / 1024), rssMb: round1(kb('VmRSS') / 1024) };
  } catch {
    return { peakMb: null, rssMb: null };
  }
}

const CLOCK_TICKS = 100;
/** CPU seconds a process has used so far, in user and in system mode; null once it is gone. */
export function cpuTimes(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) used by a process so far. */
export function cpuSeconds(pid) {
  const times = cpuTimes(pid);
  return times && times.user + times.system;
}

/** Pids of the local MariaDB and Redis servers, if they run on this machine (for CPU accounting only). */
export function serverPids() {
  const found = {};
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(join('/proc', entry, 'comm'), 'utf8').trim();
      if (comm === 'mariadbd' || comm === 'mysqld') found.mysql ??= Number(entry);
      if (comm === 'redis-server') found.redis ??= Number(entry);
    } catch {
      // gone
    }
  }
  return found;
}

/**
 * Pids of the MariaDB and Redis servers the bench talks to (MariaDB's pid file, Redis's INFO), when they run on this
 * machine: unlike `serverPids`, not confused by other servers of the same kind (a test's own MariaDB, say).
 */
export async function connectedServerPids(db, redis) {
  const found = {};
  try {
    const [[{ file }]] = await db.query('SELECT @@pid_file AS file');
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (pid) found.mysql = pid;
  } catch {
    // another machine, or the pid file is not readable: no CPU figure for MariaDB
  }
  const pid = Number(/process_id:(\d+)/.exec(await redis.info('server').catch(() => ''))?.[1]);
  if (pid && readdirSync('/proc').includes(String(pid))) found.redis = pid;
  return found;
}

/** A snapshot of CPU seconds of named processes; `since` gives the deltas. */
export function cpuSnapshot(pids) {
  const snapshot = { at: performance.now(), cpu: {} };
  for (const [name, pid] of Object.entries(pids)) if (pid) snapshot.cpu[name] = cpuSeconds(pid);
  snapshot.cpu.bench = process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  return snapshot;
}

export function cpuSince(before, after) {
  const wall = (after.at - before.at) / 1000;
  const out = { wallSeconds: round2(wall), cpuSeconds: {} };
  for (const name of Object.keys(after.cpu)) {
    if (before.cpu[name] == null || after.cpu[name] == null) continue;
    out.cpuSeconds[name] = round2(after.cpu[name] - before.cpu[name]);
  }
  return out;
}

const MYSQL_COUNTERS = [
  'Questions',
  'Com_select',
  'Com_insert',
  'Com_update',
  'Com_delete',
  'Com_begin',
  'Com_commit',
  'Com_rollback',
  'Handler_read_key',
  'Handler_read_next',
  'Handler_read_rnd_next',
  'Handler_write',
  'Innodb_data_fsyncs',
  'Innodb_os_log_fsyncs',
  // Pages InnoDB had to read from disk: the buffer pool (128 MB by default) no longer holds what a phase reads.
  'Innodb_buffer_pool_reads',
  // Pages written out: by the page cleaner (all), to free a page for a read or a new page (LRU), and the waits for a
  // free page. Late in a run the phases' rows can outgrow the buffer pool, and every new page then costs a flush.
  'Innodb_buffer_pool_pages_flushed',
  'Innodb_buffer_pool_pages_lru_flushed',
  'Innodb_buffer_pool_wait_free',
];

/** Global MariaDB counters (server-wide: other users of the server show up too). */
export async function mysqlCounters(connection) {
  const [rows] = await connection.query(
    `SHOW GLOBAL STATUS WHERE Variable_name IN (${MYSQL_COUNTERS.map(() => '?').join(',')})`,
    MYSQL_COUNTERS,
  );
  return Object.fromEntries(rows.map((row) => [row.Variable_name, Number(row.Value)]));
}

/** Redis command counts (server-wide). */
export async function redisCounters(redis) {
  const text = await redis.info('commandstats');
  const out = {};
  for (const line of text.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match) out[match[1]] = Number(match[2]);
  }
  return out;
}

export function counterDelta(before, after) {
  const out = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta) out[key] = delta;
  }
  return out;
}

export const round1 = (value) => (value == null || Number.isNaN(value) ? null : Math.round(value * 10) / 10);
export const round2 = (value) => (value == null || Number.isNaN(value) ? null : Math.round(value * 100) / 100);

/**
 * Runs `cleanup` (stop the services, drop the database and the Redis keys) on SIGINT/SIGTERM, and stops the whole
 * run after `maxSeconds` (BENCH_MAX_SECONDS); returns the deadline's timer, to clear when the run ends in time.
 */
export function cleanUpOnExit(cleanup, maxSeconds, log) {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      cleanup().finally(() => process.exit(130));
    });
  }
  return setTimeout(() => {
    log(`the run passed BENCH_MAX_SECONDS=${maxSeconds}: stopping`);
    cleanup().finally(() => process.exit(2));
  }, maxSeconds * 1000);
}

/** The buffer pool's free and dirty pages, and its size in pages. */
async function bufferPool(db) {
  try {
    const [rows] = await db.query(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_pages_free', 'Innodb_buffer_pool_pages_dirty', 'Innodb_buffer_pool_pages_total')",
    );
    const value = (name) => Number(rows.find((row) => row.Variable_name === `Innodb_buffer_pool_pages_${name}`)?.Value ?? 0);
    return { poolPages: value('total'), freePages: value('free'), dirtyPages: value('dirty') };
  } catch {
    return {};
  }
}

/**
 * Has InnoDB write out its dirty pages now, and waits until it did (down to 1 % of the pool, at most `timeoutMs`):
 * the pages an earlier phase changed. An idle InnoDB leaves them dirty; it writes them once the redo log fills, that
 * is, during the next phase, whose commits then wait behind those writes (a saturation run at 1,800 deliveries/s left
 * 3,400 dirty pages, and the fixed load after it flushed 0.64 pages per delivery against 0.12 after a short warm-up;
 * its PUT p99 was 12.4 against 5 ms). With `innodb_max_dirty_pages_pct` at 0 the page cleaner writes them all at
 * once; the setting is put back after. Returns the seconds it took, or null when the server does not allow the
 * setting (then nothing is waited for).
 */
export async function flushDirtyPages(db, timeoutMs = 60_000) {
  const started = performance.now();
  let previous;
  try {
    [[{ previous }]] = await db.query('SELECT @@GLOBAL.innodb_max_dirty_pages_pct AS previous');
    await db.query('SET GLOBAL innodb_max_dirty_pages_pct = 0');
    flushing = { db, previous: Number(previous) };
  } catch {
    return null;
  }
  try {
    // Down to 1 % of the pool: what the phase about to run makes dirty at once is not worth waiting for.
    for (;;) {
      const { dirtyPages = 0, poolPages = 0 } = await bufferPool(db);
      if (dirtyPages <= Math.max(64, poolPages / 100) || performance.now() - started >= timeoutMs) break;
      await sleep(200);
    }
  } finally {
    await restoreDirtyPagesSetting();
  }
  return round2((performance.now() - started) / 1000);
}

/** The server's setting a flush in progress changed, and the connection it used (see `restoreDirtyPagesSetting`). */
let flushing;

/**
 * Puts `innodb_max_dirty_pages_pct` back if a flush changed it: at the end of the flush, and from a bench's cleanup
 * when it is stopped (Ctrl-C, its deadline) in the middle of one, so the server is not left flushing everything.
 */
export async function restoreDirtyPagesSetting() {
  const current = flushing;
  flushing = undefined;
  if (current) await current.db.query('SET GLOBAL innodb_max_dirty_pages_pct = ?', [current.previous]).catch(() => undefined);
}

/**
 * Waits (at most `timeoutMs`) until InnoDB has purged the old row versions earlier writes left (its history list),
 * so a level's figures do not pay for the seeding's and the previous phases' writes, then has the dirty pages written
 * out (`flushDirtyPages`). Needs the PROCESS privilege; without it, returns at once.
 */
export async function waitForPurge(db, { below = 1000, timeoutMs = 60_000 } = {}) {
  const started = performance.now();
  for (;;) {
    let length = 0;
    try {
      const [[row]] = await db.query('SHOW ENGINE INNODB STATUS');
      length = Number(/History list length (\d+)/.exec(row.Status)?.[1] ?? 0);
    } catch {
      length = 0;
    }
    const seconds = (performance.now() - started) / 1000;
    if (length < below || seconds * 1000 > timeoutMs) {
      const dirtyBefore = (await bufferPool(db)).dirtyPages;
      const flushSeconds = await flushDirtyPages(db, Math.max(5_000, timeoutMs - seconds * 1000));
      return { seconds: round2(seconds), historyLength: length, dirtyBefore, flushSeconds, ...(await bufferPool(db)) };
    }
    await sleep(500);
  }
}
