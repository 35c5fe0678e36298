// Makes sure MySQL/MariaDB and Redis answer before the app or the tests start.
// On a local default port it can start them, and as root on Debian install them with apt-get.
// Every action taken is logged as one `agent-events:` line; nothing is logged when all is in place.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { createConnection as tcpConnect } from 'node:net';
import { delimiter, join } from 'node:path';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';

const DEFAULT_DATABASE_URL = 'mysql://root@127.0.0.1:3306/agent_events';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const MARIADBD = '/usr/sbin/mariadbd';
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);
const MYSQL_CONNECT_TIMEOUT_MS = 3_000;
const MYSQL_START_WAIT_MS = 30_000;
const REDIS_CONNECT_TIMEOUT_MS = 2_000;
const REDIS_START_WAIT_MS = 15_000;

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
const isDebian = () => existsSync('/etc/debian_version');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/* ------------------------------------------------------------------ helpers */

function which(command) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const extra of ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin']) {
    if (!dirs.includes(extra)) dirs.push(extra);
  }
  for (const dir of dirs) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Runs a command; resolves with { code, output } (stdout+stderr), never rejects. */
function run(command, args, { env, capture = true } = {}) {
  return new Promise((resolve) => {
    let output = '';
    let child;
    try {
      child = spawn(command, args, {
        env: env ?? process.env,
        // Daemons must not inherit our pipes, or we would wait for them forever.
        stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'ignore',
      });
    } catch (error) {
      resolve({ code: -1, output: String(error?.message ?? error) });
      return;
    }
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ code: -1, output: output + String(error.message) }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), output }));
  });
}

function tail(text, lines = 15) {
  return text.trim().split('\n').slice(-lines).join('\n');
}

let aptUpdated = false;

/** Installs a Debian package; throws `failure` (one sentence) when apt-get fails. */
async function aptInstall(pkg, log, failure) {
  log(`agent-events: installing ${pkg} with apt-get (this can take a minute)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    const update = await run('apt-get', ['update'], { env });
    if (update.code !== 0) {
      console.error(tail(update.output));
      throw new Error(failure);
    }
    aptUpdated = true;
  }
  const install = await run('apt-get', ['install', '-y', pkg], { env });
  if (install.code !== 0) {
    console.error(tail(install.output));
    throw new Error(failure);
  }
}

function hostOf(url) {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

function quoteIdentifier(name) {
  return '`' + name.replace(/`/g, '``') + '`';
}

/* -------------------------------------------------------------------- MySQL */

function parseDatabaseUrl(databaseUrl) {
  let url;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error(`DATABASE_URL is not a valid URL: use the form mysql://user:password@host:port/database.`);
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new Error(
      `DATABASE_URL must start with mysql:// (got ${url.protocol}//): use the form mysql://user:password@host:port/database.`,
    );
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, '').split('/')[0] ?? '');
  return {
    host: hostOf(url) || '127.0.0.1',
    port: url.port ? Number(url.port) : 3306,
    user: url.username ? decodeURIComponent(url.username) : 'root',
    password: url.password ? decodeURIComponent(url.password) : '',
    database,
  };
}

function requireDatabaseName(cfg) {
  if (!cfg.database) {
    throw new Error(`DATABASE_URL names no database: use the form mysql://user:password@host:port/database.`);
  }
  return cfg.database;
}

async function mysqlConnect(cfg) {
  return mysql.createConnection({
    host: cfg.host,
    port: cfg.port,
    user: cfg.user,
    password: cfg.password,
    connectTimeout: MYSQL_CONNECT_TIMEOUT_MS,
  });
}

/** Runs fn(connection) on a connection without a default database, always closing it. */
async function withMysql(cfg, fn) {
  const connection = await mysqlConnect(cfg);
  try {
    return await fn(connection);
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

/** Returns undefined when the server accepts our login, the error otherwise. */
async function probeMysql(cfg) {
  try {
    await withMysql(cfg, (connection) => connection.query('SELECT 1'));
    return undefined;
  } catch (error) {
    return error ?? new Error('unknown error');
  }
}

function isAccessDenied(error) {
  return (
    error?.code === 'ER_ACCESS_DENIED_ERROR' ||
    error?.code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR' ||
    error?.errno === 1045 ||
    error?.errno === 1698 ||
    /authentication plugin/i.test(String(error?.message ?? ''))
  );
}

/** True for errors that mean nothing (or nothing usable yet) is listening. */
function isUnreachable(error) {
  return !isAccessDenied(error) && !(typeof error?.errno === 'number' && error?.sqlState);
}

async function waitForMysql(cfg, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let error = await probeMysql(cfg);
  while (error && !isAccessDenied(error) && Date.now() < deadline) {
    await sleep(500);
    error = await probeMysql(cfg);
  }
  return error;
}

function mysqlUnreachableMessage(cfg) {
  return (
    `MySQL/MariaDB is not reachable at ${cfg.host}:${cfg.port}: set DATABASE_URL to a reachable server ` +
    `(mysql://user:password@host:port/database), or run as root on Debian so that mariadb-server can be installed.`
  );
}

function mysqlDeniedMessage(cfg, error) {
  return (
    `MySQL/MariaDB at ${cfg.host}:${cfg.port} refused the login of user '${cfg.user}' (${error.message}): ` +
    `set DATABASE_URL to the credentials of a user that may create databases (mysql://user:password@host:port/database).`
  );
}

/** Starts (and if need be installs) the local MariaDB server; returns false when it cannot. */
async function startMariadb(cfg, log) {
  if (!isRoot()) return false;
  if (!existsSync(MARIADBD)) {
    if (!isDebian() || !which('apt-get')) return false;
    await aptInstall(
      'mariadb-server',
      log,
      `Installing mariadb-server with apt-get failed (see the output above): set DATABASE_URL to a reachable server ` +
        `(mysql://user:password@host:port/database), or install and start MariaDB yourself.`,
    );
    // The package's post-install script may already have started the server.
    const error = await probeMysql(cfg);
    if (!error || !isUnreachable(error)) return true;
    if (!existsSync(MARIADBD)) return false;
  }
  log('agent-events: starting MariaDB (/usr/sbin/mariadbd)…');
  await run('install', ['-d', '-o', 'mysql', '-g', 'mysql', '-m', '0755', '/run/mysqld']);
  const startStopDaemon = which('start-stop-daemon');
  if (startStopDaemon) {
    await run(startStopDaemon, ['--start', '--oknodo', '--background', '--exec', MARIADBD, '--', '--user=mysql'], { capture: false });
  } else {
    const child = spawn(MARIADBD, ['--user=mysql'], { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
  }
  return true;
}

/**
 * A fresh Debian mariadb-server lets root in through the unix socket only. Allow the
 * passwordless TCP login the default DATABASE_URL uses (the socket login keeps working).
 */
async function allowRootOverTcp(log) {
  const client = which('mariadb') ?? which('mysql');
  if (!client) return false;
  log("agent-events: allowing MariaDB user 'root' to log in over TCP without a password…");
  const sql = [
    "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket",
    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('')",
    "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
    "CREATE USER IF NOT EXISTS 'root'@'::1' IDENTIFIED VIA mysql_native_password USING PASSWORD('')",
    "GRANT ALL PRIVILEGES ON *.* TO 'root'@'::1' WITH GRANT OPTION",
    'FLUSH PRIVILEGES',
  ].join('; ');
  const result = await run(client, ['-uroot', '-e', sql + ';']);
  if (result.code !== 0) {
    console.error(tail(result.output));
    return false;
  }
  return true;
}

async function ensureMysql(databaseUrl, log, createDatabase) {
  const cfg = parseDatabaseUrl(databaseUrl);
  const database = createDatabase ? requireDatabaseName(cfg) : '';
  const local = LOCAL_HOSTS.has(cfg.host);
  const canManage = local && cfg.port === 3306;

  let error = await probeMysql(cfg);
  if (error && isUnreachable(error)) {
    if (!canManage || !(await startMariadb(cfg, log))) {
      throw new Error(mysqlUnreachableMessage(cfg));
    }
    error = await waitForMysql(cfg, MYSQL_START_WAIT_MS);
    if (error && isUnreachable(error)) {
      throw new Error(mysqlUnreachableMessage(cfg));
    }
  }
  if (error && isAccessDenied(error)) {
    const repairable = canManage && isRoot() && cfg.user === 'root' && cfg.password === '';
    if (!repairable || !(await allowRootOverTcp(log))) {
      throw new Error(mysqlDeniedMessage(cfg, error));
    }
    error = await probeMysql(cfg);
    if (error && isAccessDenied(error)) throw new Error(mysqlDeniedMessage(cfg, error));
  }
  if (error) {
    throw new Error(`MySQL/MariaDB at ${cfg.host}:${cfg.port} answered with an error (${error.message}): check DATABASE_URL.`);
  }

  if (!createDatabase) return;
  await withMysql(cfg, async (connection) => {
    const [rows] = await connection.query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
    if (rows.length > 0) return;
    log(`agent-events: creating database ${database}…`);
    await connection.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  }).catch((cause) => {
    throw new Error(
      `Could not create database ${database} on ${cfg.host}:${cfg.port} (${cause.message}): ` +
        `give the DATABASE_URL user the CREATE privilege, or create the database yourself.`,
    );
  });
}

/** Creates the database named in databaseUrl if it does not exist (utf8mb4). */
export async function createDatabase(databaseUrl) {
  const cfg = parseDatabaseUrl(databaseUrl);
  const database = requireDatabaseName(cfg);
  await withMysql(cfg, (connection) =>
    connection.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`),
  );
}

/** Drops the database named in databaseUrl if it exists. */
export async function dropDatabase(databaseUrl) {
  const cfg = parseDatabaseUrl(databaseUrl);
  const database = requireDatabaseName(cfg);
  await withMysql(cfg, (connection) => connection.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(database)}`));
}

/* -------------------------------------------------------------------- Redis */

function parseRedisUrl(redisUrl) {
  let url;
  try {
    url = new URL(redisUrl);
  } catch {
    throw new Error(`REDIS_URL is not a valid URL: use the form redis://host:port.`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`REDIS_URL must start with redis:// or rediss:// (got ${url.protocol}//): use the form redis://host:port.`);
  }
  return { host: hostOf(url) || '127.0.0.1', port: url.port ? Number(url.port) : 6379 };
}

function redisClient(redisUrl) {
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    enableOfflineQueue: false,
  });
  client.on('error', () => {}); // errors surface through the awaited calls
  return client;
}

/** Runs fn(client) on a connected client, always closing it. */
async function withRedis(redisUrl, fn) {
  const client = redisClient(redisUrl);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    if (client.status === 'ready') {
      await client.quit().catch(() => client.disconnect());
    } else {
      client.disconnect();
    }
  }
}

/** Resolves true when something accepts TCP connections on host:port. */
function tcpAccepts(host, port, timeoutMs) {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const finish = (accepted) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(accepted);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

async function probeRedis(redisUrl) {
  // A plain TCP check first: ioredis keeps its connect timer alive after a refused connection,
  // which would hold the process open for connectTimeout.
  const cfg = parseRedisUrl(redisUrl);
  if (!(await tcpAccepts(cfg.host, cfg.port, REDIS_CONNECT_TIMEOUT_MS))) {
    const error = new Error(`connect ECONNREFUSED ${cfg.host}:${cfg.port}`);
    error.code = 'ECONNREFUSED';
    return error;
  }
  try {
    await withRedis(redisUrl, (client) => client.ping());
    return undefined;
  } catch (error) {
    return error ?? new Error('unknown error');
  }
}

/** A reply error (NOAUTH, WRONGPASS, …) means a server answered; anything else means none did. */
function redisAnswered(error) {
  return error?.name === 'ReplyError' || /NOAUTH|WRONGPASS|ERR /.test(String(error?.message ?? ''));
}

function redisUnreachableMessage(cfg) {
  return (
    `Redis is not reachable at ${cfg.host}:${cfg.port}: set REDIS_URL to a reachable server (redis://host:port), ` +
    `or install redis-server (or run as root on Debian so that it can be installed).`
  );
}

async function startRedis(cfg, redisUrl, log) {
  let binary = which('redis-server');
  if (!binary) {
    if (!isRoot() || !isDebian() || !which('apt-get')) return false;
    await aptInstall(
      'redis-server',
      log,
      `Installing redis-server with apt-get failed (see the output above): set REDIS_URL to a reachable server ` +
        `(redis://host:port), or install and start Redis yourself.`,
    );
    // The package's post-install script may already have started the server.
    if (!(await probeRedis(redisUrl))) return true;
    binary = which('redis-server');
    if (!binary) return false;
  }
  const bind = cfg.host === '::1' ? '::1' : '127.0.0.1';
  log(`agent-events: starting Redis (redis-server on ${bind}:${cfg.port})…`);
  await run(binary, ['--daemonize', 'yes', '--bind', bind, '--port', String(cfg.port), '--save', '', '--appendonly', 'no'], {
    capture: false,
  });
  return true;
}

async function ensureRedis(redisUrl, log) {
  const cfg = parseRedisUrl(redisUrl);
  let error = await probeRedis(redisUrl);
  if (error && !redisAnswered(error)) {
    const canManage = LOCAL_HOSTS.has(cfg.host) && cfg.port === 6379;
    if (!canManage || !(await startRedis(cfg, redisUrl, log))) {
      throw new Error(redisUnreachableMessage(cfg));
    }
    const deadline = Date.now() + REDIS_START_WAIT_MS;
    error = await probeRedis(redisUrl);
    while (error && !redisAnswered(error) && Date.now() < deadline) {
      await sleep(300);
      error = await probeRedis(redisUrl);
    }
    if (error && !redisAnswered(error)) throw new Error(redisUnreachableMessage(cfg));
  }
  if (error) {
    throw new Error(
      `Redis at ${cfg.host}:${cfg.port} refused the connection (${error.message}): set REDIS_URL with the right password or database (redis://:password@host:port/db).`,
    );
  }
}

/** SCANs for keys matching pattern and UNLINKs them (never FLUSHALL); returns how many were removed. */
export async function deleteRedisKeys(redisUrl, pattern) {
  if (!pattern) throw new Error('deleteRedisKeys needs a key pattern, e.g. "bull:test-*".');
  return withRedis(redisUrl, async (client) => {
    let cursor = '0';
    let removed = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) removed += await client.unlink(...keys);
    } while (cursor !== '0');
    return removed;
  });
}

/* --------------------------------------------------------------------- main */

/**
 * Makes sure the database server and Redis answer (starting or installing them when they are
 * local on their default ports) and that the database exists. Throws an Error whose message is
 * one sentence saying what to do when that is impossible.
 */
export async function ensureServices({
  databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
  redisUrl = process.env.REDIS_URL || DEFAULT_REDIS_URL,
  log = console.log,
  // The tests make databases of their own: they need the server, not the database DATABASE_URL names.
  createDatabase = true,
} = {}) {
  // Sequential on purpose: two apt-get runs at once would fight over the dpkg lock.
  await ensureMysql(databaseUrl, log, createDatabase);
  await ensureRedis(redisUrl, log);
  return { databaseUrl, redisUrl };
}
