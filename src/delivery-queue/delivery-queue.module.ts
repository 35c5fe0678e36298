import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { Global, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { createRedis, type RedisClient } from '../redis/redis-connections.js';
import { DeliveryQueueService } from './delivery-queue.service.js';
import { WEBHOOK_JOB_OPTIONS, WEBHOOK_QUEUE, type WebhookJobData } from './queue.constants.js';
import { QueueShards } from './queue-shards.js';
import { WebhookProducer } from './webhook-producer.js';

/**
 * The delivery queue: the one place that registers the BullMQ queues (one per shard, QUEUE_SHARDS) with their default
 * job options, the API's fail-fast producer, and `DeliveryQueueService`, through which every committed delivery is
 * enqueued.
 */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        // One connection of ours that the queues share; the workers make their own copies of it (BullMQ duplicates it).
        connection: createRedis(config, 'queue'),
        prefix: config.queuePrefix,
      }),
    }),
    // The worker's side: BullMQ's blocking connection (`maxRetriesPerRequest: null`), Bull Board's view, the metrics.
    BullModule.registerQueue({ name: WEBHOOK_QUEUE, defaultJobOptions: WEBHOOK_JOB_OPTIONS }),
  ],
  providers: [
    {
      provide: QueueShards,
      inject: [getQueueToken(WEBHOOK_QUEUE), APP_CONFIG],
      useFactory: (first: Queue<WebhookJobData>, config: AppConfig) => QueueShards.beside(first, config),
    },
    WebhookProducer,
    DeliveryQueueService,
  ],
  exports: [BullModule, QueueShards, WebhookProducer, DeliveryQueueService],
})
export class DeliveryQueueModule implements OnApplicationShutdown {
  constructor(private readonly shards: QueueShards) {}

  /** BullMQ leaves a connection it was given open: this one is closed here, once the queues and the workers are. */
  async onApplicationShutdown(): Promise<void> {
    await this.shards.close();
    (this.shards.queues[0].opts.connection as RedisClient).disconnect();
  }
}
