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
    });
    expect(config.webhook.retryScheduleMs).toEqual([0, 5000, 30000, 120000, 600000, 1800000, 3600000, 10800000, 21600000]);
    expect(config.webhook.allowedCidrs).toEqual([]);
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
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY'],
    [{ WEBHOOK_HOST_CONCURRENCY: '0' }, 'WEBHOOK_HOST_CONCURRENCY'],
    [{ WEBHOOK_BREAKER_ERROR_PERCENT: '101' }, 'WEBHOOK_BREAKER_ERROR_PERCENT'],
    [{ WEBHOOK_BREAKER_WINDOW_MS: '15000' }, 'WEBHOOK_BREAKER_WINDOW_MS'], // shorter than two 10 s timeouts
    [{ RETENTION_SUCCEEDED_DAYS: '0' }, 'RETENTION_SUCCEEDED_DAYS'],
  ])('refuses %j with a sentence naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} `));
  });

  it('refuses the example tokens in production, and takes secret ones', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/ADMIN_TOKEN is the example token/);
    expect(() => loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: 'a-real-secret-admin-token' })).toThrow(
      /PBX_TOKEN is the example token/,
    );
    const config = loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: 'a-real-secret-admin-token', PBX_TOKEN: 'a-real-secret-pbx-token' });
    expect(config.adminToken).toBe('a-real-secret-admin-token');
  });
});
