import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { fairSharesKey, takeTurns } from './fair-shares.js';
import { WEBHOOK_JOB_OPTIONS, WEBHOOK_QUEUE, type WebhookJobData } from './queue.constants.js';
import { createRedis, type RedisClient } from '../redis/redis-connections.js';

/**
 * The delivery queue as the API (and the reconciler) add jobs to it, on a Redis connection of its own that fails
 * fast: no offline queue, one retry, a command timeout. While Redis is away nothing is buffered in memory; the
 * deliveries are committed in MySQL and the reconciler enqueues them later. (The worker keeps the blocking
 * connection BullMQ needs, with `maxRetriesPerRequest: null`.)
 */
@Injectable()
export class WebhookProducer implements OnApplicationShutdown {
  readonly queue: Queue<WebhookJobData>;
  private readonly redis: RedisClient;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.redis = createRedis(config, 'producer');
    this.queue = new Queue<WebhookJobData>(WEBHOOK_QUEUE, {
      connection: this.redis,
      prefix: config.queuePrefix,
      defaultJobOptions: WEBHOOK_JOB_OPTIONS,
    });
    this.queue.on('error', () => undefined);
  }

  /** Counts deliveries of these clients in (fair-shares.ts); returns each one's priority, in order. */
  takeTurns(clientIds: string[]): Promise<number[]> {
    return takeTurns(
      this.redis,
      fairSharesKey((type) => this.queue.toKey(type)),
      clientIds,
    );
  }

  /** Whether a command sent now can reach Redis; when not, callers leave the work to the reconciler at once. */
  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    this.redis.disconnect();
  }
}
