import { DEFAULT_RETRY_SCHEDULE, parseRetrySchedule, TargetPolicy } from '#webhook';

/** Every setting of the service, parsed and checked once at start. */
export interface AppConfig {
  nodeEnv: string;
  /** The interface the API listens on: 127.0.0.1 in development, every interface (0.0.0.0) in production. */
  host: string;
  port: number;
  databaseUrl: string;
  /** Also the user, password and TLS (`rediss:`) of the cluster nodes or the sentinels' master. */
  redisUrl: string;
  /** REDIS_URL's one server; or a Cluster (REDIS_CLUSTER_NODES), or the master a Sentinel set names (REDIS_SENTINELS). */
  redisTopology: RedisTopology;
  adminToken: string;
  pbxToken: string;
  /** Signs client access tokens (HMAC-SHA256); changing it ends every token issued. */
  tokenSigningKey: string;
  tokenTtlSeconds: number;
  /** Requests a client's tokens may make per hour, unless the client's own limit says otherwise. */
  rateLimitPerHour: number;
  /**
   * Failed token requests (POST /oauth/token with an unknown id or a wrong secret) allowed per application id and per
   * source address in a window of `windowSeconds`; past either: 429 until the window ends.
   */
  tokenFailures: { perApplication: number; perAddress: number; windowSeconds: number };
  defaultAgentEventLimit: number;
  queuePrefix: string;
  /** How many queues the deliveries are spread over, by client (QUEUE_SHARDS; delivery-queue/queue-shards.ts). */
  queueShards: number;
  runMigrations: boolean;
  /** AE_LOG_SQL=1: log every SQL statement (for counting round trips while profiling). */
  logSql: boolean;
  webhook: {
    timeoutMs: number;
    retryScheduleMs: number[];
    retryAfterMaxMs: number;
    allowedCidrs: string[];
    concurrency: number;
    /** The fewest jobs in flight the worker goes down to while its event loop is saturated (adaptive-concurrency.ts). */
    minConcurrency: number;
    maxResponseBytes: number;
    secretOverlapMs: number;
    /** Most requests in flight to one host, across every worker (kept in Redis). */
    hostConcurrency: number;
    /** How long a newer delivery of an agent to a URL waits for an older pending one before that one gives way. */
    orderHoldMs: number;
    /** A host's circuit opens when more than `errorPercent` of at least `minRequests` requests in `windowMs` failed. */
    breaker: { errorPercent: number; minRequests: number; windowMs: number; openMs: number };
  };
  retention: { succeededDays: number; deadDays: number; intervalMs: number };
  reconcileIntervalMs: number;
  workerLockMs: number;
  /**
   * The lanes of the delivery queues this worker process serves (WORKER_LANES; delivery-queue/queue.constants.ts):
   * both by default; a process of the first lane alone never runs another client's backlog.
   */
  workerLanes: (typeof QUEUE_LANES)[number][];
  /**
   * The worker process's CPU niceness (WORKER_NICE, 0–19): by default 10 for a process of the backlog lane alone, so
   * a backlog's drain yields the CPU to the first lane, the API, MySQL and Redis on a shared machine; 0 otherwise.
   */
  workerNice: number;
  shutdownGraceMs: number;
  /** The worker's own HTTP port for /health/live, /health/ready and /metrics (on `host`, like the API). */
  workerHealthPort: number;
  /** Bull Board shows the queue but changes nothing (BULL_BOARD_READ_ONLY): the default when NODE_ENV=production. */
  bullBoardReadOnly: boolean;
  log: {
    level: LogLevel;
    /** Coloured lines for a person at a terminal; JSON lines otherwise. */
    pretty: boolean;
  };
}

export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTopology =
  { kind: 'single' } | { kind: 'cluster'; nodes: RedisNode[] } | { kind: 'sentinel'; nodes: RedisNode[]; name: string; password?: string };

/** The lanes of each delivery queue (delivery-queue/queue.constants.ts): WORKER_LANES=all serves them all. */
export const QUEUE_LANES = ['first', 'backlog'] as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const APP_CONFIG = Symbol('APP_CONFIG');

/** The tokens of `.env.example`: fine on a laptop, refused in production. */
export const EXAMPLE_TOKENS = ['change-me-admin-token', 'change-me-pbx-token', 'change-me-token-signing-key-0123456789abcdef'];

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}".`);
  }
  return Number(raw);
}

function url(env: Env, name: string, fallback: string, protocols: string[]): string {
  const raw = env[name] || fallback;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL like ${fallback}, got "${raw}".`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.join(' or ')}//, got "${raw}".`);
  }
  return raw;
}

function token(env: Env, name: string, fallback: string, production: boolean, minLength = 16): string {
  const value = env[name] || fallback;
  if (value.length < minLength) throw new ConfigError(`${name} must be at least ${minLength} characters long.`);
  if (production && EXAMPLE_TOKENS.includes(value)) {
    throw new ConfigError(`${name} is the example token; set a secret one when NODE_ENV=production.`);
  }
  return value;
}

function host(env: Env, production: boolean): string {
  const value = env.HOST || (production ? '0.0.0.0' : '127.0.0.1');
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(value)) throw new ConfigError(`HOST must be an address or host name like 127.0.0.1, got "${value}".`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!allowed.includes(raw as T)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}".`);
  return raw as T;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!['true', 'false', '1', '0'].includes(raw)) throw new ConfigError(`${name} must be true or false, got "${raw}".`);
  return raw === 'true' || raw === '1';
}

/** `host:port,host:port,…` (an IPv6 address in brackets). */
function nodes(env: Env, name: string): RedisNode[] {
  const raw = env[name] || '';
  return raw
    .split(',')
    .map((node) => node.trim())
    .filter(Boolean)
    .map((node) => {
      const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(node);
      if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
        throw new ConfigError(`${name} must be a comma-separated list of host:port like 10.0.0.1:6379,10.0.0.2:6379, got "${raw}".`);
      }
      return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
    });
}

/** A `{hash tag}`: every key of the prefix in one cluster slot. */
const HASH_TAG = /^[^{]*\{[^}]+\}/;

function redisTopology(env: Env, queuePrefix: string): RedisTopology {
  const cluster = nodes(env, 'REDIS_CLUSTER_NODES');
  const sentinels = nodes(env, 'REDIS_SENTINELS');
  if (cluster.length && sentinels.length)
    throw new ConfigError('REDIS_CLUSTER_NODES and REDIS_SENTINELS cannot both be set: a Redis is a Cluster or a Sentinel set-up.');
  if (cluster.length) {
    // BullMQ's scripts touch several keys of the queue at once: on a cluster they must all hash to one slot.
    if (!HASH_TAG.test(queuePrefix)) {
      throw new ConfigError(
        `QUEUE_PREFIX must hold a hash tag in braces, like {agent-events}, on a Redis Cluster (REDIS_CLUSTER_NODES), got "${queuePrefix}".`,
      );
    }
    return { kind: 'cluster', nodes: cluster };
  }
  if (sentinels.length) {
    const name = env.REDIS_SENTINEL_NAME;
    if (!name) throw new ConfigError('REDIS_SENTINEL_NAME must name the master the sentinels of REDIS_SENTINELS watch, like mymaster.');
    return { kind: 'sentinel', nodes: sentinels, name, ...(env.REDIS_SENTINEL_PASSWORD ? { password: env.REDIS_SENTINEL_PASSWORD } : {}) };
  }
  return { kind: 'single' };
}

/** The schema of every variable: parses and checks them all, and names the first bad one in a sentence. */
export function loadConfig(env: Env = process.env): AppConfig {
  const nodeEnv = env.NODE_ENV || 'development';
  const production = nodeEnv === 'production';
  const queuePrefix = env.QUEUE_PREFIX || '{agent-events}';
  if (!/^[\w{}:.-]{1,64}$/.test(queuePrefix)) {
    throw new ConfigError(`QUEUE_PREFIX may hold letters, digits and _ - : . { } only (at most 64), got "${queuePrefix}".`);
  }
  const queueShards = int(env, 'QUEUE_SHARDS', 1, 1, 64);
  // Each queue's hash tag is made from QUEUE_PREFIX's (delivery-queue/queue-shards.ts).
  if (queueShards > 1 && !HASH_TAG.test(queuePrefix)) {
    throw new ConfigError(`QUEUE_PREFIX must hold a hash tag in braces, like {agent-events}, with QUEUE_SHARDS > 1, got "${queuePrefix}".`);
  }
  let retryScheduleMs: number[];
  try {
    retryScheduleMs = parseRetrySchedule(env.WEBHOOK_RETRY_SCHEDULE || DEFAULT_RETRY_SCHEDULE);
  } catch (error) {
    throw new ConfigError(`WEBHOOK_RETRY_SCHEDULE is invalid: ${(error as Error).message}`);
  }
  const allowedCidrs = (env.WEBHOOK_ALLOWED_CIDRS || '')
    .split(',')
    .map((cidr) => cidr.trim())
    .filter(Boolean);
  try {
    new TargetPolicy(allowedCidrs);
  } catch {
    throw new ConfigError(
      `WEBHOOK_ALLOWED_CIDRS must be a comma-separated list of CIDR ranges like 127.0.0.0/8,::1/128, got "${env.WEBHOOK_ALLOWED_CIDRS}".`,
    );
  }
  const timeoutMs = int(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000);
  const breakerWindowMs = int(env, 'WEBHOOK_BREAKER_WINDOW_MS', 60_000, 1000, 3600_000);
  const workerConcurrency = int(env, 'WORKER_CONCURRENCY', 64, 1, 1000);
  const lanes = oneOf(env, 'WORKER_LANES', 'all', ['all', ...QUEUE_LANES] as const);
  const workerLanes: AppConfig['workerLanes'] = lanes === 'all' ? [...QUEUE_LANES] : [lanes];
  // A timed-out request is counted when it ends: a window shorter than two timeouts would forget its start.
  if (breakerWindowMs < 2 * timeoutMs) {
    throw new ConfigError(
      `WEBHOOK_BREAKER_WINDOW_MS must be at least twice WEBHOOK_TIMEOUT_MS (${2 * timeoutMs}), got "${breakerWindowMs}".`,
    );
  }
  return {
    nodeEnv,
    host: host(env, production),
    port: int(env, 'PORT', 3000, 0, 65535),
    databaseUrl: url(env, 'DATABASE_URL', 'mysql://root@127.0.0.1:3306/agent_events', ['mysql:', 'mariadb:']),
    redisUrl: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    redisTopology: redisTopology(env, queuePrefix),
    adminToken: token(env, 'ADMIN_TOKEN', EXAMPLE_TOKENS[0], production),
    pbxToken: token(env, 'PBX_TOKEN', EXAMPLE_TOKENS[1], production),
    tokenSigningKey: token(env, 'TOKEN_SIGNING_KEY', EXAMPLE_TOKENS[2], production, 32),
    tokenTtlSeconds: int(env, 'TOKEN_TTL_SECONDS', 3600, 1, 7 * 24 * 3600),
    rateLimitPerHour: int(env, 'RATE_LIMIT_PER_HOUR', 3600, 1, 100_000_000),
    tokenFailures: {
      perApplication: int(env, 'TOKEN_FAILURES_PER_APPLICATION', 20, 1, 100_000_000),
      perAddress: int(env, 'TOKEN_FAILURES_PER_ADDRESS', 100, 1, 100_000_000),
      windowSeconds: 900,
    },
    defaultAgentEventLimit: int(env, 'DEFAULT_AGENT_EVENT_LIMIT', 20, 0, 1_000_000),
    queuePrefix,
    queueShards,
    runMigrations: env.RUN_MIGRATIONS === 'true',
    logSql: env.AE_LOG_SQL === '1',
    webhook: {
      timeoutMs,
      retryScheduleMs,
      retryAfterMaxMs: int(env, 'WEBHOOK_RETRY_AFTER_MAX_MS', 6 * 3600_000, 0),
      allowedCidrs,
      concurrency: workerConcurrency,
      minConcurrency: Math.min(int(env, 'WORKER_MIN_CONCURRENCY', Math.ceil(workerConcurrency / 2), 1, 1000), workerConcurrency),
      maxResponseBytes: 64 * 1024,
      secretOverlapMs: 24 * 3600_000,
      hostConcurrency: int(env, 'WEBHOOK_HOST_CONCURRENCY', 16, 1, 1000),
      orderHoldMs: int(env, 'ORDER_HOLD_MS', 60_000, 0),
      breaker: {
        errorPercent: int(env, 'WEBHOOK_BREAKER_ERROR_PERCENT', 50, 1, 100),
        minRequests: int(env, 'WEBHOOK_BREAKER_MIN_REQUESTS', 10, 1),
        windowMs: breakerWindowMs,
        openMs: int(env, 'WEBHOOK_BREAKER_OPEN_MS', 30_000, 100, 3600_000),
      },
    },
    retention: {
      succeededDays: int(env, 'RETENTION_SUCCEEDED_DAYS', 30, 1, 36_500),
      deadDays: int(env, 'RETENTION_DEAD_DAYS', 90, 1, 36_500),
      intervalMs: int(env, 'RETENTION_INTERVAL_MS', 600_000, 1000),
    },
    reconcileIntervalMs: int(env, 'RECONCILE_INTERVAL_MS', 5000, 100),
    workerLockMs: int(env, 'WORKER_LOCK_MS', 30_000, 500),
    workerLanes,
    workerNice: int(env, 'WORKER_NICE', workerLanes.length === 1 && workerLanes[0] === 'backlog' ? 10 : 0, 0, 19),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 15_000, 0),
    workerHealthPort: int(env, 'WORKER_HEALTH_PORT', 3001, 0, 65535),
    bullBoardReadOnly: flag(env, 'BULL_BOARD_READ_ONLY', production),
    log: {
      // Tests keep quiet unless asked: only warnings and errors.
      level: oneOf(env, 'LOG_LEVEL', nodeEnv === 'test' ? 'warn' : 'info', LOG_LEVELS),
      pretty: flag(env, 'LOG_PRETTY', nodeEnv === 'development' && Boolean(process.stdout.isTTY)),
    },
  };
}
