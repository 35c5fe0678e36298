import { Global, Module, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { createRedis, type RedisClient } from '../redis/redis-connections.js';
import { DeliveryQueueService } from './delivery-queue.service.js';
import { QueueShards } from './queue-shards.js';
import { WebhookProducer } from './webhook-producer.js';

/**
 * The delivery queue: the one place that makes the BullMQ queues (one per shard, QUEUE_SHARDS) with their default job
 * options, the API's fail-fast producer, and `DeliveryQueueService`, through which every committed delivery is enqueued.
 */
@Global()
@Module({
  providers: [
    // The worker's side: one connection of ours the queues share (commands wait for Redis, as BullMQ's blocking
    // connection must); the workers make their own copies of it (BullMQ duplicates it); Bull Board and the metrics read it.
    {
      provide: QueueShards,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new QueueShards(createRedis(config, 'queue'), config),
    },
    WebhookProducer,
    DeliveryQueueService,
  ],
  exports: [QueueShards, WebhookProducer, DeliveryQueueService],
})
export class DeliveryQueueModule implements OnApplicationShutdown {
  constructor(private readonly shards: QueueShards) {}

  /** BullMQ leaves a connection it was given open: this one is closed here, once the queues and the workers are. */
  async onApplicationShutdown(): Promise<void> {
    await this.shards.close();
    (this.shards.queues[0].opts.connection as RedisClient).disconnect();
  }
}
