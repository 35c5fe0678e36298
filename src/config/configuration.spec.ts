import { ConfigError, loadConfig } from './configuration.js';

describe('loadConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      databaseUrl: 'mysql://root@127.0.0.1:3306/agent_events',
      redisUrl: 'redis://127.0.0.1:6379',
      defaultAgentEventLimit: 20,
      queuePrefix: '{agent-events}',
      queueShards: 1,
      tokenTtlSeconds: 3600,
      rateLimitPerHour: 3600,
    });
    expect(config.webhook.retryScheduleMs).toEqual([0, 5000, 30000, 120000, 600000, 1800000, 3600000, 10800000, 21600000]);
    expect(config.webhook.allowedCidrs).toEqual([]);
    expect(config.webhook).toMatchObject({ concurrency: 64, minConcurrency: 32 });
  });

  it("keeps the worker's least concurrency at most its concurrency", () => {
    expect(loadConfig({ WORKER_CONCURRENCY: '10' }).webhook).toMatchObject({ concurrency: 10, minConcurrency: 5 });
    expect(loadConfig({ WORKER_CONCURRENCY: '10', WORKER_MIN_CONCURRENCY: '50' }).webhook).toMatchObject({
      concurrency: 10,
      minConcurrency: 10,
    });
    expect(loadConfig({ WORKER_MIN_CONCURRENCY: '4' }).webhook).toMatchObject({ concurrency: 64, minConcurrency: 4 });
    expect(() => loadConfig({ WORKER_MIN_CONCURRENCY: '0' })).toThrow(ConfigError);
  });

  it('serves both lanes of the queue by default, or the one WORKER_LANES names; a backlog worker yields the CPU', () => {
    expect(loadConfig({})).toMatchObject({ workerLanes: ['first', 'backlog'], workerNice: 0 });
    expect(loadConfig({ WORKER_LANES: 'first' })).toMatchObject({ workerLanes: ['first'], workerNice: 0 });
    expect(loadConfig({ WORKER_LANES: 'backlog' })).toMatchObject({ workerLanes: ['backlog'], workerNice: 10 });
    expect(loadConfig({ WORKER_LANES: 'backlog', WORKER_NICE: '0' })).toMatchObject({ workerNice: 0 });
    expect(() => loadConfig({ WORKER_LANES: 'express' })).toThrow('WORKER_LANES must be one of all, first, backlog, got "express".');
    expect(() => loadConfig({ WORKER_NICE: '-5' })).toThrow(ConfigError);
  });

  it('reads a Redis Cluster or a Sentinel set-up from REDIS_CLUSTER_NODES or REDIS_SENTINELS', () => {
    expect(loadConfig({}).redisTopology).toEqual({ kind: 'single' });
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, [::1]:7001,redis-2:7002' }).redisTopology).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '::1', port: 7001 },
        { host: 'redis-2', port: 7002 },
      ],
    });
    expect(
      loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_NAME: 'mymaster', REDIS_SENTINEL_PASSWORD: 's3cret' }).redisTopology,
    ).toEqual({
      kind: 'sentinel',
      nodes: [{ host: '10.0.0.1', port: 26379 }],
      name: 'mymaster',
      password: 's3cret',
    });
  });

  it('refuses a queue prefix without a hash tag on a Redis Cluster, in one sentence', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000', QUEUE_PREFIX: 'agent-events' })).toThrow(
      'QUEUE_PREFIX must hold a hash tag in braces, like {agent-events}, on a Redis Cluster (REDIS_CLUSTER_NODES), got "agent-events".',
    );
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'postgres://x/y' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ DEFAULT_AGENT_EVENT_LIMIT: '-1' }, 'DEFAULT_AGENT_EVENT_LIMIT'],
    [{ WEBHOOK_RETRY_SCHEDULE: '0,soon' }, 'WEBHOOK_RETRY_SCHEDULE'],
    [{ QUEUE_PREFIX: 'has space' }, 'QUEUE_PREFIX'],
    [{ REDIS_CLUSTER_NODES: '10.0.0.1' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: '10.0.0.1:6379', QUEUE_PREFIX: 'agent-events' }, 'QUEUE_PREFIX'],
    [{ REDIS_CLUSTER_NODES: '10.0.0.1:6379', QUEUE_PREFIX: '{}agent-events' }, 'QUEUE_PREFIX'],
    [{ QUEUE_SHARDS: '0' }, 'QUEUE_SHARDS'],
    [{ QUEUE_SHARDS: '3', QUEUE_PREFIX: 'agent-events' }, 'QUEUE_PREFIX'],
    [{ REDIS_SENTINELS: '10.0.0.1:26379' }, 'REDIS_SENTINEL_NAME'],
    [{ REDIS_SENTINELS: '10.0.0.1:26379', REDIS_CLUSTER_NODES: '10.0.0.2:6379' }, 'REDIS_CLUSTER_NODES'],
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY'],
    [{ TOKEN_SIGNING_KEY: 'shorter-than-32-characters' }, 'TOKEN_SIGNING_KEY'],
    [{ TOKEN_TTL_SECONDS: '0' }, 'TOKEN_TTL_SECONDS'],
    [{ RATE_LIMIT_PER_HOUR: '1.5' }, 'RATE_LIMIT_PER_HOUR'],
    [{ WEBHOOK_ALLOWED_CIDRS: '127.0.0.1' }, 'WEBHOOK_ALLOWED_CIDRS'],
    [{ WEBHOOK_ALLOWED_CIDRS: '10.0.0.0/8,fe80::/200' }, 'WEBHOOK_ALLOWED_CIDRS'],
    [{ WORKER_HEALTH_PORT: '65536' }, 'WORKER_HEALTH_PORT'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ LOG_PRETTY: 'maybe' }, 'LOG_PRETTY'],
    [{ WEBHOOK_HOST_CONCURRENCY: '0' }, 'WEBHOOK_HOST_CONCURRENCY'],
    [{ WEBHOOK_BREAKER_ERROR_PERCENT: '101' }, 'WEBHOOK_BREAKER_ERROR_PERCENT'],
    [{ WEBHOOK_BREAKER_WINDOW_MS: '15000' }, 'WEBHOOK_BREAKER_WINDOW_MS'], // shorter than two 10 s timeouts
    [{ RETENTION_SUCCEEDED_DAYS: '0' }, 'RETENTION_SUCCEEDED_DAYS'],
    [{ BULL_BOARD_READ_ONLY: 'yes' }, 'BULL_BOARD_READ_ONLY'],
    [{ TOKEN_FAILURES_PER_APPLICATION: '0' }, 'TOKEN_FAILURES_PER_APPLICATION'],
    [{ TOKEN_FAILURES_PER_ADDRESS: 'many' }, 'TOKEN_FAILURES_PER_ADDRESS'],
  ])('refuses %j with a sentence naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} `));
  });

  it('listens on 127.0.0.1 unless HOST says otherwise, and on every interface in production', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    const secret = {
      ADMIN_TOKEN: 'a-secret-admin-token-1',
      PBX_TOKEN: 'a-secret-pbx-token-12',
      TOKEN_SIGNING_KEY: 'a-real-secret-signing-key-of-32-chars-or-more',
    };
    expect(loadConfig({ NODE_ENV: 'production', ...secret }).host).toBe('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'production', HOST: '10.1.2.3', ...secret }).host).toBe('10.1.2.3');
    expect(() => loadConfig({ HOST: 'two words' })).toThrow(/^HOST /);
  });

  it('makes Bull Board read-only in production unless BULL_BOARD_READ_ONLY says otherwise, and writable elsewhere', () => {
    const production = {
      NODE_ENV: 'production',
      ADMIN_TOKEN: 'a-secret-admin-token-1',
      PBX_TOKEN: 'a-secret-pbx-token-12',
      TOKEN_SIGNING_KEY: 'a-real-secret-signing-key-of-32-chars-or-more',
    };
    expect(loadConfig(production).bullBoardReadOnly).toBe(true);
    expect(loadConfig({ ...production, BULL_BOARD_READ_ONLY: 'false' }).bullBoardReadOnly).toBe(false);
    expect(loadConfig({}).bullBoardReadOnly).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test' }).bullBoardReadOnly).toBe(false);
    expect(loadConfig({ BULL_BOARD_READ_ONLY: 'true' }).bullBoardReadOnly).toBe(true);
  });

  it('throttles failed token requests: 20 per application id and 100 per source address in 15 minutes, unless told', () => {
    expect(loadConfig({}).tokenFailures).toEqual({ perApplication: 20, perAddress: 100, windowSeconds: 900 });
    expect(loadConfig({ TOKEN_FAILURES_PER_APPLICATION: '5', TOKEN_FAILURES_PER_ADDRESS: '50' }).tokenFailures).toEqual({
      perApplication: 5,
      perAddress: 50,
      windowSeconds: 900,
    });
  });

  it('logs at info, as JSON, unless asked otherwise; tests log only warnings and errors', () => {
    expect(loadConfig({ NODE_ENV: 'staging' }).log).toEqual({ level: 'info', pretty: false });
    expect(loadConfig({ NODE_ENV: 'test' }).log.level).toBe('warn');
    expect(loadConfig({ LOG_LEVEL: 'debug', LOG_PRETTY: 'true' }).log).toEqual({ level: 'debug', pretty: true });
    expect(loadConfig({}).workerHealthPort).toBe(3001);
    expect(loadConfig({ WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8, ::1/128' }).webhook.allowedCidrs).toEqual(['127.0.0.0/8', '::1/128']);
  });

  it('refuses the example tokens in production, and takes secret ones', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/ADMIN_TOKEN is the example token/);
    expect(() => loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: 'a-real-secret-admin-token' })).toThrow(
      /PBX_TOKEN is the example token/,
    );
    const secrets = { NODE_ENV: 'production', ADMIN_TOKEN: 'a-real-secret-admin-token', PBX_TOKEN: 'a-real-secret-pbx-token' };
    expect(() => loadConfig(secrets)).toThrow(/TOKEN_SIGNING_KEY is the example token/);
    const config = loadConfig({ ...secrets, TOKEN_SIGNING_KEY: 'a-real-secret-signing-key-of-32-chars-or-more' });
    expect(config.adminToken).toBe('a-real-secret-admin-token');
  });
});
