import { Logger } from '@nestjs/common';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { AppConfig } from '../config/configuration.js';
import { throttledLog } from '../logging/throttled-log.js';
import { redisOptions } from './redis-options.js';

/** A connection to the configured Redis: one server, a Cluster (REDIS_CLUSTER_NODES) or a Sentinel set (REDIS_SENTINELS). */
export type RedisClient = Redis | Cluster;

/**
 * What a connection is for, and so how it behaves while Redis is away:
 * - `queue`: BullMQ's queue and worker (Bull Board, the health of the consumer); commands wait for Redis to come
 *   back, as BullMQ's blocking connection must (`maxRetriesPerRequest: null`);
 * - `producer`: the API's enqueues; fails fast and buffers nothing (the reconciler enqueues from MySQL later);
 * - `rate-limits`: one retry and a timeout (requests pass uncounted meanwhile);
 * - `health`: one command at a time, failing at once while Redis is away.
 */
export type RedisPurpose = 'queue' | 'producer' | 'rate-limits' | 'health';

const BEHAVIOUR: Record<RedisPurpose, RedisOptions> = {
  queue: { maxRetriesPerRequest: null },
  producer: { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000, connectTimeout: 2000 },
  'rate-limits': { maxRetriesPerRequest: 1, commandTimeout: 2000 },
  health: { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 },
};

/**
 * The one place that makes Redis connections. REDIS_URL gives the user, password, TLS (`rediss:`) and db, and the
 * server itself unless REDIS_CLUSTER_NODES or REDIS_SENTINELS name the nodes instead. Errors are logged under the
 * purpose with backoff (a connection that cannot reach Redis retries on its own, and says so on every try).
 */
export function createRedis(
  config: Pick<AppConfig, 'redisUrl' | 'redisTopology'>,
  purpose: RedisPurpose,
  overrides: RedisOptions = {},
): RedisClient {
  const { host, port, ...credentials } = redisOptions(config.redisUrl);
  const options = { ...credentials, ...BEHAVIOUR[purpose], ...overrides };
  const topology = config.redisTopology;
  let client: RedisClient;
  if (topology.kind === 'cluster') {
    // Offline queue and lazy start belong to the cluster; every other option to its connection to each node.
    const { enableOfflineQueue, lazyConnect, db: _db, ...nodeOptions } = options;
    client = new Cluster(topology.nodes, { enableOfflineQueue, lazyConnect, redisOptions: nodeOptions });
  } else if (topology.kind === 'sentinel') {
    client = new Redis({
      ...options,
      sentinels: topology.nodes,
      name: topology.name,
      ...(topology.password ? { sentinelPassword: topology.password } : {}),
      ...(options.tls ? { enableTLSForSentinelMode: true, sentinelTLS: options.tls } : {}),
    });
  } else {
    client = new Redis({ host, port, ...options });
  }
  const log = throttledLog(new Logger('Redis'));
  client.on('error', (error: Error) => log(`${purpose}: ${error.message}`));
  return client;
}
