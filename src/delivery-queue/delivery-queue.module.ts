import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Global, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { createRedis, type RedisClient } from '../redis/redis-connections.js';
import { DeliveryQueueService } from './delivery-queue.service.js';
import { WEBHOOK_JOB_OPTIONS, WEBHOOK_QUEUE } from './queue.constants.js';
import { WebhookProducer } from './webhook-producer.js';

/**
 * The delivery queue: the one place that registers the BullMQ queue and its default job options, the API's
 * fail-fast producer, and `DeliveryQueueService`, through which every committed delivery is enqueued.
 */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        // One connection of ours that the queue shares; the worker makes its own copies of it (BullMQ duplicates it).
        connection: createRedis(config, 'queue'),
        prefix: config.queuePrefix,
      }),
    }),
    // The worker's side: BullMQ's blocking connection (`maxRetriesPerRequest: null`), and Bull Board's view.
    BullModule.registerQueue({ name: WEBHOOK_QUEUE, defaultJobOptions: WEBHOOK_JOB_OPTIONS }),
  ],
  providers: [WebhookProducer, DeliveryQueueService],
  exports: [BullModule, WebhookProducer, DeliveryQueueService],
})
export class DeliveryQueueModule implements OnApplicationShutdown {
  constructor(@InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue) {}

  /** BullMQ leaves a connection it was given open: this one is closed here, once the queue and the worker are. */
  onApplicationShutdown(): void {
    (this.queue.opts.connection as RedisClient).disconnect();
  }
}
