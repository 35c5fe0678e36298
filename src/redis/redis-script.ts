import type { RedisClient } from './redis-connections.js';

type WithScripts = RedisClient & Record<string, ((...args: (string | number)[]) => Promise<unknown>) | undefined>;

/**
 * A Lua script called by name on any connection (a single server, a Cluster or a Sentinel-managed one): defined on
 * the connection the first time it is used there, then sent as EVALSHA, the script text only when the server has not
 * seen it. One round trip, with no ioredis pipeline to build (whose constructor copies every script BullMQ defined
 * on its connection). The keys come first in `args`, `numberOfKeys` of them, all in one hash slot on a Cluster; with
 * `numberOfKeys` undefined, `args` start with the number of keys that follow (a script of as many keys as entries).
 */
export function redisScript<T>(name: string, numberOfKeys: number | undefined, lua: string) {
  return (connection: RedisClient, ...args: (string | number)[]): Promise<T> => {
    const client = connection as WithScripts;
    if (typeof client[name] !== 'function') connection.defineCommand(name, { numberOfKeys, lua });
    return client[name]!(...args) as Promise<T>;
  };
}
