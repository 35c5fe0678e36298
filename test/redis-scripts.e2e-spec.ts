import { Redis } from 'ioredis';
import { createRedis, type RedisClient } from '../src/redis/redis-connections.js';
import { redisScript } from '../src/redis/redis-script.js';
import { deleteQueueKeys, suiteResources } from './support/test-app.js';

/** Two scripts of the suite's own, registered like the service's: when their module is loaded. */
const ADD = redisScript<number>('scriptsSuiteAdd', 1, `return redis.call('INCRBY', KEYS[1], ARGV[1])`);
const READ = redisScript<string | null>('scriptsSuiteRead', 1, `return redis.call('GET', KEYS[1])`);

describe('Redis scripts on an auto-pipelined connection (the worker’s scripts and receiver isolation)', () => {
  const { queuePrefix, redisUrl } = suiteResources('redis-scripts');
  const key = `${queuePrefix}:count`;
  const connections: RedisClient[] = [];
  let admin: Redis;

  beforeAll(() => {
    admin = new Redis(redisUrl);
  });

  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await deleteQueueKeys(admin, queuePrefix);
    admin.disconnect();
  });

  function connection(): RedisClient {
    const made = createRedis({ redisUrl, redisTopology: { kind: 'single' } }, 'queue', { enableAutoPipelining: true });
    connections.push(made);
    return made;
  }

  it('runs different scripts first used in the same turn of the event loop, in one write, each with its own answer', async () => {
    const redis = connection();
    // Each script's first use, all in one turn: one pipeline for the turn, which must know both scripts.
    const answers = await Promise.all([ADD(redis, key, 2), READ(redis, key), ADD(redis, key, 3), READ(redis, key)]);
    expect(answers).toEqual([2, '2', 5, '5']);
    expect(await admin.get(key)).toBe('5');
  });

  it('runs a script first used in a turn that a plain command started', async () => {
    const redis = connection();
    await admin.set(key, '7');
    expect(await Promise.all([redis.get(key), ADD(redis, key, 1), READ(redis, key)])).toEqual(['7', 8, '8']);
  });
});
