import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { deleteQueueKeys, suiteResources } from './support/test-app.js';

/** `npm run reset` drops the database and the queue's Redis keys, and only after a "yes". */
describe('npm run reset', () => {
  const resources = suiteResources('reset');
  const env = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: resources.databaseUrl,
    REDIS_URL: resources.redisUrl,
    QUEUE_PREFIX: resources.queuePrefix,
  };
  let server: mysql.Connection;
  let redis: Redis;

  beforeAll(async () => {
    server = await mysql.createConnection({ uri: resources.databaseUrl.replace(/\/[^/]*$/, '/') });
    redis = new Redis(resources.redisUrl);
  });
  afterAll(async () => {
    await server.query(`DROP DATABASE IF EXISTS \`${resources.databaseName}\``);
    await server.end();
    await deleteQueueKeys(redis, resources.queuePrefix);
    redis.disconnect();
  });

  const state = async () => {
    const [rows] = await server.query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [
      resources.databaseName,
    ]);
    return { database: (rows as unknown[]).length, keys: (await redis.keys(`${resources.queuePrefix}:*`)).length };
  };

  beforeEach(async () => {
    await server.query(`CREATE DATABASE IF NOT EXISTS \`${resources.databaseName}\``);
    await redis.set(`${resources.queuePrefix}:webhooks:id`, '1');
    await redis.set('{ae-someone-else}:webhooks:id', '1');
  });
  afterEach(() => redis.del('{ae-someone-else}:webhooks:id'));

  it('deletes nothing unless the answer is yes', async () => {
    const run = spawnSync(process.execPath, ['scripts/reset.mjs'], { env, input: 'no\n', encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`This deletes the database ${resources.databaseName}`);
    expect(run.stdout).toContain('nothing was deleted');
    expect(await state()).toEqual({ database: 1, keys: 1 });
  });

  it('drops the database and the keys of the queue prefix, and leaves every other key', async () => {
    const run = spawnSync(process.execPath, ['scripts/reset.mjs'], { env, input: 'yes\n', encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('`npm start` creates them afresh');
    expect(await state()).toEqual({ database: 0, keys: 0 });
    expect(await redis.get('{ae-someone-else}:webhooks:id')).toBe('1');
  });
});
