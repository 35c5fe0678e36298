import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ReplyError } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { shardPrefixes } from './queue-prefixes.js';
import { createRedis, type RedisClient } from './redis-connections.js';

/** How a readiness failure says that Redis answered, but refused the queue's commands (HealthChecks.ready). */
export const REFUSES = "refuses the queue's commands: ";

/**
 * Writes a short-lived key under a queue's prefix and reads it back: the prefix's `{hash tag}` puts it in that queue's
 * own hash slot (the queue's keys are `<prefix>:<queue>:…`), so this reaches the node, and the master, the queue needs.
 */
const PROBE = `redis.call('SET', KEYS[1], '1', 'PX', 10000) return redis.call('PTTL', KEYS[1])`;

/**
 * The health check's connection, made like the queue's (one server, a Cluster or through Sentinel). It fails fast
 * while Redis is away, and it writes into the queue's hash slot: a node that does not own the slot (MOVED), a
 * cluster without a master for it (CLUSTERDOWN), a replica (READONLY) or a prefix split over slots (CROSSSLOT) fail
 * the check as the queue's own commands fail. With QUEUE_SHARDS, every queue's slot is checked.
 */
@Injectable()
export class RedisHealthClient implements OnApplicationShutdown {
  readonly redis: RedisClient;
  private readonly keys: string[];

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.redis = createRedis(config, 'health');
    // One per queue (QUEUE_SHARDS): each queue's slot.
    this.keys = shardPrefixes(config.queuePrefix, config.queueShards).map((prefix) => `${prefix}:health`);
  }

  /** Resolves when the queue's commands can run; a refusal's message starts with REFUSES. */
  async check(): Promise<void> {
    if (this.redis.status === 'wait') await this.redis.connect();
    try {
      await Promise.all(this.keys.map((key) => this.redis.eval(PROBE, 1, key)));
    } catch (error) {
      if (error instanceof ReplyError) throw new Error(`${REFUSES}${(error as Error).message}`);
      throw error as Error;
    }
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
