import type { RedisClient } from './redis-connections.js';

type WithScripts = RedisClient & Record<string, ((...args: (string | number)[]) => Promise<unknown>) | undefined>;

/** Every script of the service, by name: each module defines its scripts when it is loaded, before any connection. */
const SCRIPTS = new Map<string, { numberOfKeys: number; lua: string }>();

/**
 * Defines every script on a connection. An auto-pipelined connection (`enableAutoPipelining`) needs them all before
 * its first command: the pipeline of a turn of the event loop knows the scripts defined when it was started, and one
 * defined later in that turn is not a function there (ioredis then fails the whole turn's commands).
 */
export function defineScripts(connection: RedisClient): void {
  const client = connection as WithScripts;
  for (const [name, script] of SCRIPTS) if (typeof client[name] !== 'function') connection.defineCommand(name, script);
}

/**
 * A Lua script called by name on any connection (a single server, a Cluster or a Sentinel-managed one): defined on
 * the connection the first time a script is used there (all of them at once, see `defineScripts`), then sent as
 * EVALSHA, the script text only when the server has not seen it. One round trip, with no ioredis pipeline to build
 * (whose constructor copies every script BullMQ defined on its connection). The keys come first in `args`,
 * `numberOfKeys` of them, all in one hash slot on a Cluster.
 */
export function redisScript<T>(name: string, numberOfKeys: number, lua: string) {
  if (SCRIPTS.has(name) && SCRIPTS.get(name)!.lua !== lua) throw new Error(`two Redis scripts are named ${name}`);
  SCRIPTS.set(name, { numberOfKeys, lua });
  return (connection: RedisClient, ...args: (string | number)[]): Promise<T> => {
    const client = connection as WithScripts;
    if (typeof client[name] !== 'function') defineScripts(connection);
    return client[name]!(...args) as Promise<T>;
  };
}
