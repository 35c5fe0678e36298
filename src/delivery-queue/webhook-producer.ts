import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { dropStandIn, takeTurns, type Turn } from './fair-shares.js';
import { QueueShards, type ShardQueue } from './queue-shards.js';
import { createRedis, type RedisClient } from '../redis/redis-connections.js';

/**
 * The delivery queues as the API (and the reconciler) add jobs to them, on a Redis connection of its own that fails
 * fast: no offline queue, one retry, a command timeout. While Redis is away nothing is buffered in memory; the
 * deliveries are committed in MySQL and the reconciler enqueues them later. (The worker keeps the blocking
 * connection BullMQ needs, with `maxRetriesPerRequest: null`.)
 */
@Injectable()
export class WebhookProducer implements OnApplicationShutdown {
  readonly shards: QueueShards;
  private readonly redis: RedisClient;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.redis = createRedis(config, 'producer');
    this.shards = QueueShards.create(this.redis, config);
  }

  /**
   * Counts deliveries of one shard's clients in (fair-shares.ts); returns each one's lane and priority, in order.
   * `firstAddFollows`: the caller's add to the first lane goes right behind it (the queues share this connection).
   */
  takeTurns(shard: ShardQueue, entries: { deliveryId: string; clientId: string }[], firstAddFollows = false): Promise<Turn[]> {
    return takeTurns(this.redis, shard, entries, firstAddFollows);
  }

  /**
   * Takes away the stand-in a turn left in the first lane under this delivery's id; false when there is none (its job is
   * there, or another enqueue of it took the stand-in away: fair-shares.ts, DROP_STAND_IN).
   */
  dropStandIn(shard: ShardQueue, deliveryId: string): Promise<boolean> {
    return dropStandIn(this.redis, shard, deliveryId);
  }

  /** Whether a command sent now can reach Redis; when not, callers leave the work to the reconciler at once. */
  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  async onApplicationShutdown(): Promise<void> {
    await this.shards.close();
    this.redis.disconnect();
  }
}
